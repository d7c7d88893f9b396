"""The strong model's zero-shot prior from label-token logits; no teacher at all (a reference point)."""

from collections.abc import Mapping

import numpy as np

from aarlab.w2s.methods._api import MethodContext, method


def centered(probs: Mapping[str, float]) -> dict[str, float]:
    """Shift log-odds so their median is 0: removes the model's bias towards one label word, using no labels."""
    ids = list(probs)
    p = np.clip(np.array([probs[i] for i in ids]), 1e-6, 1 - 1e-6)
    logits = np.log(p / (1 - p))
    shifted = 1 / (1 + np.exp(-(logits - np.median(logits))))
    return {i: float(v) for i, v in zip(ids, shifted, strict=True)}


@method("zeroshot", "Strong model's zero-shot label-token probabilities on test (median-centred), no teacher")
def run(ctx: MethodContext) -> Mapping[str, float]:
    return centered(ctx.strong.zero_shot(ctx.test))
