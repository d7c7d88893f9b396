"""Vanilla weak-to-strong: fine-tune the strong model on the weak teacher's hard labels (Burns et al., 2023)."""

from collections.abc import Mapping

from aarlab.w2s.methods._api import MethodContext, method


@method("vanilla", "Fine-tune the strong model on the weak teacher's hard (rounded) labels")
def run(ctx: MethodContext) -> Mapping[str, float]:
    student = ctx.strong.train(ctx.unlabeled, ctx.weak_targets(hard=True), seed=ctx.seed)
    return student.predict(ctx.test)
