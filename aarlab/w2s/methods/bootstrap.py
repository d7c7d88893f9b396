"""Iterative self-training: train on weak labels, relabel the training inputs with the student, retrain."""

from collections.abc import Mapping

from aarlab.w2s.methods._api import MethodContext, method

ROUNDS = 2  # students trained in total (1 = vanilla)


@method("bootstrap", "Self-training: relabel train_unlabel with the student's own hard predictions and retrain "
                     "a fresh student (2 rounds)")
def run(ctx: MethodContext) -> Mapping[str, float]:
    targets = ctx.weak_targets(hard=True)
    for round_index in range(ROUNDS):
        student = ctx.strong.train(ctx.unlabeled, targets, seed=ctx.seed + round_index)
        if round_index < ROUNDS - 1:
            relabeled = {i: float(p > 0.5) for i, p in student.predict(ctx.unlabeled).items()}
            changed = sum(relabeled[i] != targets[i] for i in targets)
            ctx.log(f"round {round_index + 1}: student relabeled {changed} of {len(targets)} examples")
            targets = relabeled
    return student.predict(ctx.test)
