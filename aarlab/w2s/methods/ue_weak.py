"""Combine the strong model's zero-shot prior with the weak labels (product of experts), then fine-tune."""

from collections.abc import Mapping

import numpy as np

from aarlab.w2s.methods._api import MethodContext, method
from aarlab.w2s.methods.zeroshot import centered


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


@method("ue_weak", "Fine-tune on soft targets combining weak labels with the strong model's centred zero-shot "
                   "prior (sum of log-odds)")
def run(ctx: MethodContext) -> Mapping[str, float]:
    prior = centered(ctx.strong.zero_shot(ctx.unlabeled))
    targets = {
        i: float(1 / (1 + np.exp(-(_logit(p) + _logit(prior[i])))))
        for i, p in ctx.weak_soft_labels.items()
    }
    student = ctx.strong.train(ctx.unlabeled, targets, seed=ctx.seed)
    return student.predict(ctx.test)
