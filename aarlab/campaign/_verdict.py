"""The campaign's verdict: does its best promoted weak-to-strong method beat the literature, and if not, why not.

Issue 17 asks a campaign's report to say whether its best *promoted* method beats every literature baseline on the
development dataset (paired 95% CI above 0 on the private split), and when it does not, by how much it misses and
why -- from the run's own data, not from a person reading it. This module computes that from what the server
stores: the promotions (``aarlab promote ... --against``), every public score of the campaign, and the answer
keys' split sizes.

A method flagged "ignores the weak labels" (the promotion's shuffled-label ablation) is not a weak-to-strong result
whatever it scores, so the verdict is about the best promoted method that learns from the teacher; higher-scoring
teacher-free ones are listed as set aside. The reasons are the checks below, each stated with its numbers and
given only when its condition holds:

* ``public-saturated``: many submissions score within one standard error of the best public PGR, so public
  selection could not rank the top programs (a search agent's fitness was blind there);
* ``private-resolution``: the miss is within a few private items per seed, the finest step the private split
  resolves;
* ``baseline-at-ceiling``: the closest baseline already reaches the fresh seeds' ceiling, leaving no room above it
  that the private split can show;
* ``teacher-free-winner``: the programs that scored higher ignore the weak labels;
* ``not-compared``: the promotion was not run against the baselines (``--against``), so nothing is known.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A submission within this many public-PGR standard errors of the best public PGR is indistinguishable from it.
SATURATION_SE = 1.0
#: Public scores are saturated when at least this share of a dataset's submissions (and SATURATION_MIN of them)
#: are indistinguishable from the best.
SATURATION_SHARE = 0.2
SATURATION_MIN = 3
#: A miss or a CI half-width within this many private items per seed is at the private split's resolution.
RESOLUTION_ITEMS = 2.0


@dataclass(frozen=True)
class SplitSizes:
    """What the verdict needs about one dataset's test split: distinct items per part and public-PGR noise."""

    n_public_items: int
    n_private_items: int
    public_pgr_se: float  # one standard error of a public PGR near the ceiling


@dataclass(frozen=True)
class PromotedRun:
    """One promoted result, as the verdict reads it (from a promotion row's stored result)."""

    submission_id: str
    agent: str
    method: str
    dataset: str
    private_pgr: float
    weak_acc: float | None
    strong_acc: float | None
    private_acc: float | None
    versus: Mapping[str, Mapping[str, Any]]  # baseline -> stored BaselineComparison
    beats_every_baseline: bool | None
    ignores_weak_labels: bool
    shuffled_acc: float | None

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> PromotedRun | None:
        """The run of a stored promotion result; None when it did not promote (failed, or PGR undefined)."""
        from aarlab.campaign._promote_stats import IGNORES_WEAK_LABELS

        if result.get("status") != "promoted" or result.get("private_pgr") is None:
            return None
        ablation = result.get("ablation") or {}
        return cls(
            submission_id=str(result.get("submission_id", "")), agent=str(result.get("agent", "")),
            method=str(result.get("method", "")), dataset=str(result.get("dataset", "")),
            private_pgr=float(result["private_pgr"]), weak_acc=result.get("weak_acc"),
            strong_acc=result.get("strong_acc"), private_acc=result.get("private_transfer_acc"),
            versus=result.get("versus") or {}, beats_every_baseline=result.get("beats_every_baseline"),
            ignores_weak_labels=bool(ablation.get("ignores_weak_labels")) or
            IGNORES_WEAK_LABELS in (result.get("flags") or []),
            shuffled_acc=ablation.get("shuffled_acc"))

    @property
    def gap(self) -> float | None:
        """The fresh seeds' private gap strong_acc - weak_acc (None when unknown or not positive)."""
        if self.weak_acc is None or self.strong_acc is None or self.strong_acc <= self.weak_acc:
            return None
        return self.strong_acc - self.weak_acc


@dataclass(frozen=True)
class Miss:
    """A literature baseline the method does not beat: paired accuracy difference (method - baseline), its 95% CI,
    the same difference in PGR units of the fresh seeds' gap, and the baseline's private PGR and accuracy."""

    baseline: str
    mean_diff: float
    ci: tuple[float, float]
    pgr_diff: float | None
    baseline_pgr: float | None
    baseline_acc: float | None


@dataclass(frozen=True)
class Reason:
    """One data-backed reason the method misses (``key`` is one of the module docstring's checks)."""

    key: str
    text: str


@dataclass
class Verdict:
    """The verdict on one development dataset."""

    dataset: str
    best: PromotedRun | None  # best promoted method that learns from the teacher
    compared: int = 0  # literature baselines it was compared with
    beats_all: bool | None = None  # None: not compared
    misses: list[Miss] = field(default_factory=list)  # closest first
    set_aside: list[PromotedRun] = field(default_factory=list)  # higher private PGR, ignore the weak labels
    reasons: list[Reason] = field(default_factory=list)

    @property
    def headline(self) -> str:
        """One sentence: what the campaign found on this dataset against the literature."""
        if self.best is None:
            found = (f"every promoted method on {self.dataset} ignores the weak labels "
                     f"({len(self.set_aside)} set aside): no weak-to-strong result to compare")
            return found
        who = f"{self.best.agent}'s {self.best.method} (private PGR {self.best.private_pgr:.2f})"
        if self.beats_all is None:
            return f"on {self.dataset} the best promoted method, {who}, was not compared with the literature"
        if self.beats_all:
            return (f"on {self.dataset} the best promoted method, {who}, beats every one of the {self.compared} "
                    "literature baselines (paired 95% CI above 0)")
        closest = self.misses[0]
        return (f"on {self.dataset} the best promoted method, {who}, does not beat {len(self.misses)} of the "
                f"{self.compared} literature baselines; closest {_miss_text(closest)}")


def _miss_text(miss: Miss) -> str:
    pgr = f", {miss.pgr_diff:+.2f} PGR" if miss.pgr_diff is not None else ""
    return (f"{miss.baseline} {miss.mean_diff:+.3f} accuracy [{miss.ci[0]:+.3f}, {miss.ci[1]:+.3f}]{pgr}")


def _mean(values: Sequence[float] | None) -> float | None:
    return sum(values) / len(values) if values else None


def misses_of(run: PromotedRun) -> list[Miss]:
    """The baselines ``run`` does not beat (paired CI not above 0), closest (smallest difference) first."""
    from aarlab.campaign._promote_stats import BaselineComparison

    gap = run.gap
    out = []
    for name, stored in run.versus.items():
        cmp = BaselineComparison.model_validate(stored)
        if cmp.beaten:
            continue
        out.append(Miss(name, cmp.mean_diff, cmp.ci, cmp.mean_diff / gap if gap else None, cmp.baseline_private_pgr,
                        _mean(cmp.baseline_acc)))
    return sorted(out, key=lambda m: m.mean_diff)


def _saturation(dataset: str, public_pgrs: Sequence[float], sizes: SplitSizes | None) -> Reason | None:
    if not public_pgrs or sizes is None or not math.isfinite(sizes.public_pgr_se):
        return None
    top = max(public_pgrs)
    near = sum(p >= top - SATURATION_SE * sizes.public_pgr_se for p in public_pgrs)
    if near < SATURATION_MIN or near < SATURATION_SHARE * len(public_pgrs):
        return None
    return Reason("public-saturated", (
        f"{near} of the {len(public_pgrs)} submissions on {dataset} score within one standard error "
        f"({sizes.public_pgr_se:.2f} PGR; {sizes.n_public_items} distinct public items) of the best public PGR "
        f"{top:.2f}: the public score could not rank the top programs, so selection among them was blind"))


def _resolution(miss: Miss, sizes: SplitSizes | None) -> Reason | None:
    if sizes is None or sizes.n_private_items <= 0:
        return None
    step = 1 / sizes.n_private_items
    half = (miss.ci[1] - miss.ci[0]) / 2
    if max(abs(miss.mean_diff), half) > RESOLUTION_ITEMS * step:
        return None
    return Reason("private-resolution", (
        f"the miss against {miss.baseline}, {miss.mean_diff:+.3f} accuracy (95% CI half-width {half:.3f}), is "
        f"{abs(miss.mean_diff) / step:.1f} private items per seed: the private part has {sizes.n_private_items} "
        f"distinct items (accuracy moves in steps of {step:.3f}), too few to separate the two"))


def _at_ceiling(run: PromotedRun, miss: Miss, sizes: SplitSizes | None) -> Reason | None:
    if miss.baseline_acc is None or run.strong_acc is None or miss.baseline_acc < run.strong_acc:
        return None
    left = (1 - miss.baseline_acc) * sizes.n_private_items if sizes and sizes.n_private_items else None
    room = f"; it leaves {left:.1f} private items per seed to get right" if left is not None else ""
    pgr = f"private PGR {miss.baseline_pgr:.2f}, " if miss.baseline_pgr is not None else ""
    return Reason("baseline-at-ceiling", (
        f"{miss.baseline} already reaches the fresh seeds' ceiling ({pgr}accuracy {miss.baseline_acc:.3f} against "
        f"the strong ceiling's {run.strong_acc:.3f}){room}: beating it needs more than the ceiling"))


def _teacher_free(set_aside: Sequence[PromotedRun]) -> Reason | None:
    if not set_aside:
        return None
    top = set_aside[0]
    shuffled = f"; on shuffled weak labels it scores {top.shuffled_acc:.3f} accuracy against {top.private_acc:.3f}" \
        if top.shuffled_acc is not None and top.private_acc is not None else ""
    return Reason("teacher-free-winner", (
        f"{len(set_aside)} promoted method(s) scored higher but ignore the weak labels, best {top.agent}'s "
        f"{top.method} at private PGR {top.private_pgr:.2f}{shuffled}: what scored best was not learning from "
        "the teacher, and the search's fitness did not tell the two apart"))


def campaign_verdicts(runs: Iterable[PromotedRun], public_pgrs: Mapping[str, Sequence[float]],
                      sizes: Mapping[str, SplitSizes]) -> list[Verdict]:
    """One verdict per dataset with a promoted result (datasets sorted by name).

    ``public_pgrs``: every public PGR the campaign's submissions got, per dataset; ``sizes``: per dataset split
    sizes and public noise (see :func:`split_sizes`)."""
    by_dataset: dict[str, list[PromotedRun]] = {}
    for run in runs:
        by_dataset.setdefault(run.dataset, []).append(run)
    out = []
    for dataset in sorted(by_dataset):
        ranked = sorted(by_dataset[dataset], key=lambda r: -r.private_pgr)
        honest = [r for r in ranked if not r.ignores_weak_labels]
        best = honest[0] if honest else None
        set_aside = [r for r in ranked if r.ignores_weak_labels and (best is None or r.private_pgr > best.private_pgr)]
        verdict = Verdict(dataset, best, set_aside=set_aside)
        reasons: list[Reason | None] = [_teacher_free(set_aside)]
        if best is not None and best.beats_every_baseline is None:
            reasons.append(Reason("not-compared", (
                f"{best.agent}'s promotion was not compared with the literature baselines: re-run it with "
                f"`aarlab promote {best.submission_id} --against all`")))
        elif best is not None:
            verdict.compared, verdict.misses = len(best.versus), misses_of(best)
            verdict.beats_all = not verdict.misses
            if verdict.misses:
                closest, size = verdict.misses[0], sizes.get(dataset)
                reasons += [_saturation(dataset, public_pgrs.get(dataset, ()), size), _resolution(closest, size),
                            _at_ceiling(best, closest, size)]
        verdict.reasons = [r for r in reasons if r is not None]
        out.append(verdict)
    return out


def split_sizes(keys: Mapping[str, Any]) -> dict[str, SplitSizes]:
    """Split sizes and public-PGR noise per dataset from the server's answer keys (``load_answer_keys``)."""
    from aarlab.server._integrity import Baselines, pgr_noise

    out = {}
    for name, key in keys.items():
        base = Baselines.of_key(key)
        out[name] = SplitSizes(base.n_public, max(0, base.n_test - base.n_public), pgr_noise(base))
    return out
