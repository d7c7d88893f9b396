"""Soft-label distillation: cross-entropy against the weak teacher's probabilities instead of its hard labels."""

from collections.abc import Mapping

from aarlab.w2s.methods._api import MethodContext, method


@method("soft", "Fine-tune on the weak teacher's soft labels (cross-entropy to its probabilities)")
def run(ctx: MethodContext) -> Mapping[str, float]:
    student = ctx.strong.train(ctx.unlabeled, ctx.weak_targets(), seed=ctx.seed)
    return student.predict(ctx.test)
