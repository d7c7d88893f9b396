"""Integrity tripwires computed from stored submissions: majority-answer predictions and score jumps.

Both are hints for a human, not verdicts: a flagged submission is worth opening, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A submission whose predictions fall on one side of 0.5 this often is a majority-answer submission.
MAJORITY_SHARE = 0.98
#: Predictions spread less than this (standard deviation) are constant.
CONSTANT_STD = 0.01
#: A public PGR this much above the agent's previous best on the dataset is a score jump.
JUMP_PGR = 0.25


@dataclass(frozen=True)
class Flag:
    """One tripwire that fired on a submission."""

    kind: str  # "majority-answer" | "score-jump"
    detail: str


def prediction_flags(blob: bytes) -> list[Flag]:
    """Majority-answer tripwire of one submission's stored predictions (float64 little-endian)."""
    p = np.frombuffer(blob, dtype="<f8")
    if p.size == 0:
        return []
    positive = float(np.mean(p > 0.5))
    share = max(positive, 1 - positive)
    spread = float(np.std(p))
    if spread < CONSTANT_STD:
        mean = float(p.mean())
        return [Flag("majority-answer", f"(nearly) constant predictions: std {spread:.4f} around {mean:.2f}")]
    if share >= MAJORITY_SHARE:
        side = "positive" if positive >= 0.5 else "negative"
        return [Flag("majority-answer", f"{share:.0%} of predictions are {side}")]
    return []


def jump_flags(history: list[tuple[str, str, str, float | None]]) -> dict[str, Flag]:
    """Score-jump flags by submission id, from (id, agent, dataset, public PGR) in submission order."""
    best: dict[tuple[str, str], float] = {}
    out: dict[str, Flag] = {}
    for sub_id, agent, dataset, pgr in history:
        if pgr is None:
            continue
        key = (agent, dataset)
        before = best.get(key)
        if before is not None and pgr - before >= JUMP_PGR:
            out[sub_id] = Flag("score-jump", f"public PGR {pgr:.2f} after a best of {before:.2f} (+{pgr - before:.2f})")
        best[key] = pgr if before is None else max(before, pgr)
    return out
