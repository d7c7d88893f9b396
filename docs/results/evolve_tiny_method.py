"""evolved-pc943977936: soft targets, auxconf 0.84, ensemble of 2.

Written by the aarlab evolve agent from building blocks (aarlab/agents/evolve/_program.py); a starting point of its search.
Program: {"targets":"soft","temperature":0.705,"select":"all","threshold":0.769,"weighting":"none","weight_power":2.434,"loss":"auxconf","aux_coef":0.836,"rounds":1,"relabel_mix":0.439,"ensemble":2,"lr_mult":1.0,"epochs_mult":1.0}
"""
from collections.abc import Mapping

from aarlab.w2s.methods import MethodContext, method
from aarlab.w2s.train import AuxConfidence


@method('evolved-pc943977936', 'soft targets, auxconf 0.84, ensemble of 2')
def run(ctx: MethodContext) -> Mapping[str, float]:
    # 1. targets: the teacher's soft labels as they are
    targets = dict(ctx.weak_soft_labels)
    # 2. selection: every example
    kept = list(ctx.unlabeled)
    # 3. weights: none
    weights = None
    # 4. loss: auxiliary confidence (Burns et al.); recipe: lr x1, epochs x1
    recipe = {"lr": ctx.strong.config.lr * 1, "epochs": ctx.strong.config.epochs * 1}
    # 5-6. 2 student(s), 1 self-training round(s) each
    outputs = []
    for member in range(2):
        round_targets = dict(targets)
        for round_index in range(1):
            seed = ctx.seed + 100 * member + round_index
            student = ctx.strong.train(kept, round_targets, seed=seed, weights=weights, loss=AuxConfidence(aux_coef=0.836, warmup_frac=0.2), **recipe)
        outputs.append(student.predict(ctx.test))
    return {e.id: sum(o[e.id] for o in outputs) / len(outputs) for e in ctx.test}
