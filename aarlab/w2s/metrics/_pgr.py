"""Accuracy, performance gap recovered (PGR) and its bootstrap confidence interval.

PGR = (transfer_acc - weak_acc) / (strong_acc - weak_acc): 0 means the student only matches its weak teacher,
1 means it matches a student trained on ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aarlab.w2s.data import Example


class DegenerateGapError(ValueError):
    """The strong ceiling does not beat the weak teacher, so PGR is undefined."""


def accuracy(probs: Mapping[str, float], examples: Sequence[Example]) -> float:
    """Fraction of labeled ``examples`` whose P(positive) is on the right side of 0.5 (ties count as negative)."""
    return float(correctness(probs, examples).mean())


def correctness(probs: Mapping[str, float], examples: Sequence[Example]) -> np.ndarray:
    """Per-example 0/1 correctness, in the order of ``examples``; every example must have a prediction."""
    missing = [e.id for e in examples if e.id not in probs]
    if missing:
        raise KeyError(f"{len(missing)} examples have no prediction, e.g. {missing[:3]}")
    labels = np.array([bool(e.positive()) for e in examples])
    predicted = np.array([probs[e.id] > 0.5 for e in examples])
    return (labels == predicted).astype(np.float64)


def pgr(weak_acc: float, strong_acc: float, transfer_acc: float, min_gap: float = 1e-9) -> float:
    """Performance gap recovered; raises :class:`DegenerateGapError` when strong_acc - weak_acc <= min_gap."""
    gap = strong_acc - weak_acc
    if gap <= min_gap:
        raise DegenerateGapError(
            f"PGR is undefined: strong_acc {strong_acc:.4f} does not exceed weak_acc {weak_acc:.4f} "
            f"(gap {gap:+.4f}); the suite gives no weak-to-strong gap to recover"
        )
    return (transfer_acc - weak_acc) / gap


def pgr_bar_misses(result: Mapping[str, Any]) -> list[tuple[str, float | None]]:
    """Where an experiment's result (``pgr`` of the means over seeds, ``seeds`` with their own ``pgr``) misses the
    acceptance bar's 0 < PGR < 1: ``("mean", pgr)`` and ``("seed N", pgr)`` for every PGR missing or outside."""
    pgrs = [("mean", result.get("pgr")), *((f"seed {s.get('seed')}", s.get("pgr")) for s in result.get("seeds", []))]
    return [(where, p) for where, p in pgrs if p is None or not 0 < p < 1]


def bootstrap_pgr_ci(
    weak: np.ndarray,
    strong: np.ndarray,
    transfer: np.ndarray,
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the PGR of seed means, resampling seeds and test examples jointly.

    Inputs are 0/1 correctness matrices [seeds, examples] on the same test examples. Resamples whose gap is not
    positive are dropped; if more than half are, the interval is (nan, nan).
    """
    if not weak.shape == strong.shape == transfer.shape or weak.ndim != 2:
        raise ValueError(f"expected three equal [seeds, examples] matrices, got {weak.shape}, {strong.shape}, "
                         f"{transfer.shape}")
    rng = np.random.default_rng(seed)
    n_seeds, n_examples = weak.shape
    seed_idx = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    ex_idx = rng.integers(0, n_examples, size=(resamples, n_examples))

    def resampled_mean(matrix: np.ndarray) -> np.ndarray:
        per_seed = matrix[:, ex_idx].mean(axis=2)  # [seeds, resamples]
        return np.take_along_axis(per_seed.T, seed_idx, axis=1).mean(axis=1)  # [resamples]

    w, s, t = resampled_mean(weak), resampled_mean(strong), resampled_mean(transfer)
    gap = s - w
    ok = gap > 1e-9
    if ok.sum() < resamples / 2:
        return (float("nan"), float("nan"))
    values = (t[ok] - w[ok]) / gap[ok]
    alpha = (1 - level) / 2
    return (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))
