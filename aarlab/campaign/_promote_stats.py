"""The numbers of a promotion: paired comparisons with vanilla (and, when asked, every other literature baseline), the
label-dependence ablation, held-out PGR.

All inputs are 0/1 correctness matrices ``[seeds, examples]`` on the *private* part of a test split (the same
examples, in the same order, for every matrix of one dataset).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

#: A method "keeps" its gain over zero-shot when, trained on shuffled weak labels, it still has this fraction of it.
KEEPS_GAIN = 0.5
#: With no gain over zero-shot to lose, a method whose shuffled run is within this accuracy of its real run (or
#: above it) does not depend on the weak labels either.
SAME_ACC = 0.02
IGNORES_WEAK_LABELS = "ignores the weak labels"


class PairedComparison(BaseModel):
    """Method minus vanilla on the same seeds and examples: accuracy differences, 95% CI and a two-sided p-value."""

    model_config = ConfigDict(extra="forbid")

    method_acc: list[float]
    vanilla_acc: list[float]
    per_seed_diff: list[float]
    mean_diff: float
    ci: tuple[float, float]
    p_value: float
    resamples: int


class LabelAblation(BaseModel):
    """The method with its weak soft labels shuffled over examples (same class balance) against zero-shot."""

    model_config = ConfigDict(extra="forbid")

    zero_shot_acc: float
    method_acc: float
    shuffled_acc: float
    gain: float  # method - zero-shot
    shuffled_gain: float  # shuffled - zero-shot
    retained: float | None  # shuffled_gain / gain, None when there is no gain to lose
    ignores_weak_labels: bool


def paired_comparison(method: np.ndarray, vanilla: np.ndarray, *, resamples: int = 2000,
                      seed: int = 0) -> PairedComparison:
    """Paired bootstrap over seeds and examples of ``mean(method) - mean(vanilla)``.

    The same resampled seeds and examples are used for both matrices, so per-example pairing is kept. The p-value
    is the two-sided bootstrap tail of 0: ``2 * (min(#{d <= 0}, #{d >= 0}) + 1) / (B + 1)``, capped at 1.
    """
    if method.shape != vanilla.shape or method.ndim != 2:
        raise ValueError(f"expected two equal [seeds, examples] matrices, got {method.shape} and {vanilla.shape}")
    diff = method.astype(np.float64) - vanilla.astype(np.float64)  # [seeds, examples]
    rng = np.random.default_rng(seed)
    n_seeds, n_examples = diff.shape
    seed_idx = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    ex_idx = rng.integers(0, n_examples, size=(resamples, n_examples))
    per_seed = diff[:, ex_idx].mean(axis=2)  # [seeds, resamples]
    boot = np.take_along_axis(per_seed.T, seed_idx, axis=1).mean(axis=1)  # [resamples]
    tail = min(int((boot <= 0).sum()), int((boot >= 0).sum()))
    return PairedComparison(
        method_acc=[float(v) for v in method.mean(axis=1)],
        vanilla_acc=[float(v) for v in vanilla.mean(axis=1)],
        per_seed_diff=[float(v) for v in diff.mean(axis=1)],
        mean_diff=float(diff.mean()),
        ci=(float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))),
        p_value=min(1.0, 2 * (tail + 1) / (resamples + 1)),
        resamples=resamples,
    )


class BaselineComparison(BaseModel):
    """The promoted method minus one literature baseline, both re-run the same way (fresh sandboxes, the same fresh
    seeds) and scored on the same private examples: accuracy differences, paired 95% CI, p-value."""

    model_config = ConfigDict(extra="forbid")

    baseline: str
    baseline_private_pgr: float | None
    baseline_acc: list[float]  # per seed
    per_seed_diff: list[float]
    mean_diff: float
    ci: tuple[float, float]
    p_value: float

    @property
    def beaten(self) -> bool:
        """The method is better with the paired 95% CI above 0."""
        return self.ci[0] > 0


def versus_baseline(name: str, method: np.ndarray, baseline: np.ndarray, baseline_private_pgr: float | None,
                    ) -> BaselineComparison:
    """:func:`paired_comparison` of ``method`` against the baseline ``name`` (same matrices layout)."""
    paired = paired_comparison(method, baseline)
    return BaselineComparison(baseline=name, baseline_private_pgr=baseline_private_pgr,
                              baseline_acc=paired.vanilla_acc, per_seed_diff=paired.per_seed_diff,
                              mean_diff=paired.mean_diff, ci=paired.ci, p_value=paired.p_value)


def label_ablation(zero_shot_acc: float, method_acc: float, shuffled_acc: float) -> LabelAblation:
    """Whether the method's gain over zero-shot survives shuffled weak labels (then it ignores the weak labels).

    A weak-to-strong method must lose most of its gain (``retained < KEEPS_GAIN``). Without a gain over zero-shot
    (``gain <= 0``) there is nothing to lose: the method ignores the weak labels when its shuffled run does as well
    as its real one (within ``SAME_ACC``).
    """
    gain, shuffled_gain = method_acc - zero_shot_acc, shuffled_acc - zero_shot_acc
    if gain > 0:
        kept = shuffled_gain / gain
        retained: float | None = kept
        ignores = kept >= KEEPS_GAIN
    else:
        retained = None
        ignores = shuffled_acc >= method_acc - SAME_ACC
    return LabelAblation(zero_shot_acc=zero_shot_acc, method_acc=method_acc, shuffled_acc=shuffled_acc, gain=gain,
                         shuffled_gain=shuffled_gain, retained=retained, ignores_weak_labels=ignores)
