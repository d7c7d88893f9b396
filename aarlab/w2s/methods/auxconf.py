"""Auxiliary confidence loss (Burns et al., 2023): let the student overrule its teacher where it is confident."""

from collections.abc import Mapping

from aarlab.w2s.methods._api import MethodContext, method


@method("auxconf", "Burns et al. auxiliary confidence loss: mix weak labels with the student's hardened "
                   "predictions, weight ramped up over a warm-up")
def run(ctx: MethodContext) -> Mapping[str, float]:
    from aarlab.w2s.train import AuxConfidence

    loss = AuxConfidence(aux_coef=0.75, warmup_frac=0.2)
    student = ctx.strong.train(ctx.unlabeled, ctx.weak_targets(hard=True), seed=ctx.seed, loss=loss)
    return student.predict(ctx.test)
