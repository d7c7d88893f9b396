"""Confidence filtering: train only on examples where the weak teacher is confident."""

from collections.abc import Mapping

from aarlab.w2s.data import Example
from aarlab.w2s.methods._api import MethodContext, method

THRESHOLD = 0.8  # keep examples with max(p, 1 - p) > THRESHOLD
MIN_FRACTION = 0.2  # if fewer survive, keep this most-confident fraction of each predicted class instead


def confident_examples(ctx: MethodContext, threshold: float = THRESHOLD) -> list[Example]:
    """The unlabeled examples whose teacher confidence max(p, 1 - p) exceeds ``threshold``; when fewer than
    :data:`MIN_FRACTION` of them do, the most confident fraction of each predicted class instead.

    Per predicted class because the teacher's most confident examples often share one label (on tiny's chat, 94% of
    its top fifth did), and a student trained on one label predicts a constant. Shared by this method and the
    evolve agent's selection block.
    """
    confidence = {e.id: max(ctx.weak_soft_labels[e.id], 1 - ctx.weak_soft_labels[e.id]) for e in ctx.unlabeled}
    kept = [e for e in ctx.unlabeled if confidence[e.id] > threshold]
    if len(kept) >= MIN_FRACTION * len(ctx.unlabeled):
        return kept
    hard = ctx.weak_targets(hard=True)
    kept = []
    for label in (1.0, 0.0):
        side = sorted((e for e in ctx.unlabeled if hard[e.id] == label), key=lambda e: -confidence[e.id])
        kept += side[: max(1, round(MIN_FRACTION * len(side)))]
    ctx.log(f"only few examples above {threshold}; using the {len(kept)} most confident of each predicted class "
            "instead")
    return kept


@method("confident", "Fine-tune on hard weak labels of confident examples only (teacher confidence > 0.8)")
def run(ctx: MethodContext) -> Mapping[str, float]:
    kept = confident_examples(ctx)
    ctx.log(f"training on {len(kept)} of {len(ctx.unlabeled)} examples")
    # Same number of optimisation steps as vanilla: fewer examples, proportionally more epochs.
    epochs = ctx.strong.config.epochs * len(ctx.unlabeled) / len(kept)
    student = ctx.strong.train(kept, ctx.weak_targets(hard=True), seed=ctx.seed, epochs=epochs)
    return student.predict(ctx.test)
