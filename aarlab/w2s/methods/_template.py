"""The file ``aarlab w2s new-method NAME`` writes: a working method to edit."""

TEMPLATE = '''"""{name}: describe the idea in one line."""

from collections.abc import Mapping

from aarlab.w2s.methods import MethodContext, method


@method("{name}", "One line: what this method does")
def run(ctx: MethodContext) -> Mapping[str, float]:
    # ctx.unlabeled: training inputs (no labels); ctx.weak_soft_labels: id -> teacher P(True/B)
    # ctx.test: test inputs; ctx.strong: train(...) / zero_shot(...) / features(...); ctx.seed; ctx.scratch_dir
    targets = {{i: float(p > 0.5) for i, p in ctx.weak_soft_labels.items()}}
    student = ctx.strong.train(ctx.unlabeled, targets, seed=ctx.seed)
    return student.predict(ctx.test)
'''
