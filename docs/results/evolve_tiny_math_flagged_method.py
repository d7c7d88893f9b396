"""evolved-pc41634a970: soft targets, confident > 0.80, auxconf 0.84, ensemble of 2, lr x0.54 epochs x1.00.

Written by the aarlab evolve agent from building blocks (aarlab/agents/evolve/_program.py); derived from program p310a1999a4.
Program: {"targets":"soft","temperature":0.5,"select":"confident","threshold":0.8,"weighting":"none","weight_power":1.0,"loss":"auxconf","aux_coef":0.836,"rounds":1,"relabel_mix":1.0,"ensemble":2,"lr_mult":0.542,"epochs_mult":1.0}
"""
from collections.abc import Mapping

from aarlab.w2s.methods import MethodContext, method
from aarlab.w2s.train import AuxConfidence
from aarlab.w2s.methods.confident import confident_examples


@method('evolved-pc41634a970', 'soft targets, confident > 0.80, auxconf 0.84, ensemble of 2, lr x0.54 epochs x1.00')
def run(ctx: MethodContext) -> Mapping[str, float]:
    # 1. targets: the teacher's soft labels as they are
    targets = dict(ctx.weak_soft_labels)
    # 2. selection: examples where the teacher's confidence max(p, 1-p) > 0.8 (else the 20% most confident of each predicted class: the `confident` baseline's selection)
    kept = confident_examples(ctx, 0.8)
    ctx.log(f"training on {len(kept)} of {len(ctx.unlabeled)} examples")
    # 3. weights: none
    weights = None
    # 4. loss: auxiliary confidence (Burns et al.); recipe: lr x0.542, epochs x1
    recipe = {"lr": ctx.strong.config.lr * 0.542, "epochs": ctx.strong.config.epochs * 1 * len(ctx.unlabeled) / len(kept)}
    # 5-6. 2 student(s), 1 self-training round(s) each
    outputs = []
    for member in range(2):
        round_targets = dict(targets)
        for round_index in range(1):
            seed = ctx.seed + 100 * member + round_index
            student = ctx.strong.train(kept, round_targets, seed=seed, weights=weights, loss=AuxConfidence(aux_coef=0.836, warmup_frac=0.2), **recipe)
        outputs.append(student.predict(ctx.test))
    return {e.id: sum(o[e.id] for o in outputs) / len(outputs) for e in ctx.test}
