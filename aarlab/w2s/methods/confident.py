"""Confidence filtering: train only on examples where the weak teacher is confident."""

from collections.abc import Mapping

from aarlab.w2s.methods._api import MethodContext, method

THRESHOLD = 0.8  # keep examples with max(p, 1 - p) > THRESHOLD
MIN_FRACTION = 0.2  # if fewer survive, keep this most-confident fraction of each predicted class instead


@method("confident", "Fine-tune on hard weak labels of confident examples only (teacher confidence > 0.8)")
def run(ctx: MethodContext) -> Mapping[str, float]:
    confidence = {e.id: max(ctx.weak_soft_labels[e.id], 1 - ctx.weak_soft_labels[e.id]) for e in ctx.unlabeled}
    kept = [e for e in ctx.unlabeled if confidence[e.id] > THRESHOLD]
    if len(kept) < MIN_FRACTION * len(ctx.unlabeled):
        # Per predicted class: the teacher's most confident examples often share one label (on tiny's chat, 94% of
        # its top fifth did), and a student trained on one label predicts a constant.
        kept = []
        for positive in (True, False):
            side = [e for e in ctx.unlabeled if (ctx.weak_soft_labels[e.id] >= 0.5) == positive]
            side.sort(key=lambda e: -confidence[e.id])
            kept += side[: max(1, round(MIN_FRACTION * len(side)))] if side else []
        ctx.log(f"only few examples above {THRESHOLD}; using the {len(kept)} most confident of each predicted "
                "class instead")
    ctx.log(f"training on {len(kept)} of {len(ctx.unlabeled)} examples")
    # Same number of optimisation steps as vanilla: fewer examples, proportionally more epochs.
    epochs = ctx.strong.config.epochs * len(ctx.unlabeled) / len(kept)
    student = ctx.strong.train(kept, ctx.weak_targets(hard=True), seed=ctx.seed, epochs=epochs)
    return student.predict(ctx.test)
