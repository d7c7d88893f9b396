"""W2S methods as programs: a genome of building blocks from the literature, rendered as an ordinary method file.

A :class:`Program` picks one block per step of a weak-to-strong method and the block's parameters:

1. **targets** -- the teacher's soft labels as they are, rounded (hard), sharpened by a temperature, or combined
   with the strong model's centred zero-shot prior (product of experts, ``ue_weak``);
2. **selection** -- every example, or the ones the teacher is confident on (a threshold, with a floor fraction of
   each predicted class: the ``confident`` baseline's own selection);
3. **weighting** -- none, or the teacher's confidence ``|2p - 1| ** power``;
4. **loss** -- cross-entropy, or the auxiliary confidence loss (Burns et al., 2023) with a coefficient;
5. **self-training rounds** -- later rounds retrain on a mix of the targets and the previous student's hard
   predictions (``bootstrap``);
6. **ensemble** -- students from several seeds, their predictions averaged;
7. **recipe** -- multipliers of the suite's learning rate and epochs.

The six literature baselines are points of this space (:data:`BASELINES`); :func:`render` writes any point as a
readable method file with the plug-in API (only the blocks it uses, each commented), :func:`mutate` and
:func:`crossover` make new points, and :func:`retune_of` says when a program is a baseline with another recipe.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Targets = Literal["soft", "hard", "sharpened", "prior"]


class Program(BaseModel):
    """One W2S method as a choice of blocks (see the module doc); frozen and hashable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: Targets = "hard"
    temperature: float = Field(0.5, ge=0.1, le=1.0, description="sharpened: p -> p^(1/T) normalised")
    select: Literal["all", "confident"] = "all"
    threshold: float = Field(0.8, ge=0.5, le=0.95, description="confident: keep max(p, 1-p) > threshold")
    weighting: Literal["none", "confidence"] = "none"
    weight_power: float = Field(1.0, ge=0.25, le=4.0)
    loss: Literal["ce", "auxconf"] = "ce"
    aux_coef: float = Field(0.75, ge=0.1, le=1.0)
    rounds: int = Field(1, ge=1, le=3)
    relabel_mix: float = Field(1.0, ge=0.1, le=1.0, description="later rounds: weight of the student's labels")
    ensemble: int = Field(1, ge=1, le=3)
    lr_mult: float = Field(1.0, ge=0.25, le=4.0)
    epochs_mult: float = Field(1.0, ge=0.5, le=3.0)

    @property
    def id(self) -> str:
        """A short content hash: the same program always gets the same id (and file name)."""
        return "p" + hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:10]

    def canonical(self) -> Program:
        """The same computation with every parameter of a block not in use at its default.

        A block swap or a crossover can leave a stale parameter behind (a threshold with selection "all"); two such
        programs run identically, so they must share an id: otherwise an agent spends evaluations on a program it
        already ran, and two agents' identical runs look like copies of each other.
        """
        defaults = {name: field.default for name, field in type(self).model_fields.items()}
        return self.model_copy(update={g: defaults[g] for g in _USED_BY if not _active(self, g)})

    def structure(self) -> Program:
        """The program with its recipe multipliers reset: what it *does*, not how long or how fast it trains."""
        return self.canonical().model_copy(update={"lr_mult": 1.0, "epochs_mult": 1.0})

    def describe(self) -> str:
        """One line naming the blocks in use."""
        parts = [{"soft": "soft targets", "hard": "hard targets", "prior": "weak x zero-shot prior",
                  "sharpened": f"sharpened targets (T={self.temperature:.2f})"}[self.targets]]
        if self.select == "confident":
            parts.append(f"confident > {self.threshold:.2f}")
        if self.weighting == "confidence":
            parts.append(f"confidence weights ^{self.weight_power:.2f}")
        if self.loss == "auxconf":
            parts.append(f"auxconf {self.aux_coef:.2f}")
        if self.rounds > 1:
            parts.append(f"{self.rounds} self-training rounds (mix {self.relabel_mix:.2f})")
        if self.ensemble > 1:
            parts.append(f"ensemble of {self.ensemble}")
        if (self.lr_mult, self.epochs_mult) != (1.0, 1.0):
            parts.append(f"lr x{self.lr_mult:.2f} epochs x{self.epochs_mult:.2f}")
        return ", ".join(parts)


#: The literature baselines as programs (``zeroshot`` does not use the teacher, so it is not a point here).
BASELINES: dict[str, Program] = {
    "vanilla": Program(targets="hard"),
    "soft": Program(targets="soft"),
    "confident": Program(targets="hard", select="confident", threshold=0.8),
    "auxconf": Program(targets="hard", loss="auxconf", aux_coef=0.75),
    "bootstrap": Program(targets="hard", rounds=2, relabel_mix=1.0),
    "ue_weak": Program(targets="prior"),
}


def retune_of(program: Program) -> str | None:
    """The baseline this program is, up to its learning rate and epochs; None when it is a new method."""
    structure = program.structure()
    return next((name for name, base in BASELINES.items() if base == structure), None)


# -- variation -------------------------------------------------------------------------------------------------

_CHOICES: dict[str, tuple[object, ...]] = {
    "targets": ("soft", "hard", "sharpened", "prior"), "select": ("all", "confident"),
    "weighting": ("none", "confidence"), "loss": ("ce", "auxconf"), "rounds": (1, 2, 3), "ensemble": (1, 2, 3),
}
_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.2, 0.9), "threshold": (0.6, 0.9), "weight_power": (0.5, 3.0), "aux_coef": (0.25, 1.0),
    "relabel_mix": (0.3, 1.0), "lr_mult": (0.5, 2.5), "epochs_mult": (0.7, 2.0),
}
#: Which numeric genes matter for which block (a mutation of an unused parameter would change nothing).
_USED_BY: dict[str, tuple[str, object]] = {
    "temperature": ("targets", "sharpened"), "threshold": ("select", "confident"),
    "weight_power": ("weighting", "confidence"), "aux_coef": ("loss", "auxconf"), "relabel_mix": ("rounds", None),
}


def _active(program: Program, gene: str) -> bool:
    if gene not in _USED_BY:
        return True
    block, value = _USED_BY[gene]
    return getattr(program, block) > 1 if value is None else getattr(program, block) == value


def random_program(rng: random.Random) -> Program:
    """A program with every block drawn at random (recipe near the suite's)."""
    genes: dict[str, object] = {name: rng.choice(options) for name, options in _CHOICES.items()}
    genes.update({name: round(rng.uniform(low, high), 3) for name, (low, high) in _RANGES.items()})
    genes["ensemble"] = rng.choice((1, 1, 2))  # ensembles cost their size in time: rarer at the start
    genes["lr_mult"], genes["epochs_mult"] = 1.0, 1.0
    return Program.model_validate(genes)


def mutate(program: Program, rng: random.Random, changes: int = 1) -> Program:
    """``changes`` random edits: swap one block for another, or move one parameter of a block in use."""
    current = program.model_dump()
    for _ in range(changes):
        if rng.random() < 0.5:
            gene = rng.choice(list(_CHOICES))
            current[gene] = rng.choice([v for v in _CHOICES[gene] if v != current[gene]])
        else:
            active = [g for g in _RANGES if _active(Program.model_validate(current), g)]
            gene = rng.choice(active)
            low, high = _RANGES[gene]
            step = (high - low) * rng.gauss(0, 0.25)
            current[gene] = round(min(high, max(low, float(current[gene]) + step)), 3)
    return Program.model_validate(current)


def crossover(a: Program, b: Program, rng: random.Random) -> Program:
    """A child taking each block (with its parameters) from one parent or the other."""
    left, right = a.model_dump(), b.model_dump()
    child = {}
    for block, params in (("targets", ("temperature",)), ("select", ("threshold",)),
                          ("weighting", ("weight_power",)), ("loss", ("aux_coef",)),
                          ("rounds", ("relabel_mix",)), ("ensemble", ()), ("lr_mult", ("epochs_mult",))):
        source = left if rng.random() < 0.5 else right
        child[block] = source[block]
        for param in params:
            child[param] = source[param]
    return Program.model_validate(child)


# -- rendering -------------------------------------------------------------------------------------------------

def method_name(program: Program) -> str:
    """The ``@method`` name of a program's file (and its leaderboard label's stem)."""
    return f"evolved-{program.id}"


def render(program: Program, *, parent: str | None = None) -> str:
    """The program as a method file: the plug-in API, only the blocks it uses, each step commented.

    ``parent``: where it came from (a snapshot id or program id), recorded in the docstring.
    """
    p = program
    imports = ["from collections.abc import Mapping", ""]
    if p.targets == "prior":
        imports.insert(1, "import math")
    imports += ["from aarlab.w2s.methods import MethodContext, method"]
    if p.loss == "auxconf":
        imports.append("from aarlab.w2s.train import AuxConfidence")
    if p.targets == "prior":
        imports.append("from aarlab.w2s.methods.zeroshot import centered")
    if p.select == "confident":
        imports.append("from aarlab.w2s.methods.confident import confident_examples")
    body: list[str] = []
    helpers: list[str] = []
    # 1. targets
    if p.targets == "soft":
        body += ["    # 1. targets: the teacher's soft labels as they are", "    targets = dict(ctx.weak_soft_labels)"]
    elif p.targets == "hard":
        body += ["    # 1. targets: the teacher's labels rounded to 0/1", "    targets = ctx.weak_targets(hard=True)"]
    elif p.targets == "sharpened":
        helpers += ["def _sharpen(p: float, temperature: float) -> float:",
                    "    a, b = p ** (1 / temperature), (1 - p) ** (1 / temperature)", "    return a / (a + b)", ""]
        body += [f"    # 1. targets: the teacher's soft labels sharpened at temperature {p.temperature:g}",
                 f"    targets = {{i: _sharpen(q, {p.temperature:g}) for i, q in ctx.weak_soft_labels.items()}}"]
    else:
        helpers += ["def _logit(p: float) -> float:", "    p = min(max(p, 1e-6), 1 - 1e-6)",
                    "    return math.log(p / (1 - p))", ""]
        body += ["    # 1. targets: weak labels x the strong model's centred zero-shot prior (sum of log-odds)",
                 "    prior = centered(ctx.strong.zero_shot(ctx.unlabeled))",
                 "    targets = {i: 1 / (1 + math.exp(-(_logit(q) + _logit(prior[i]))))",
                 "               for i, q in ctx.weak_soft_labels.items()}"]
    # 2. selection
    if p.select == "confident":
        body += [f"    # 2. selection: examples where the teacher's confidence max(p, 1-p) > {p.threshold:g} "
                 "(else the 20% most confident of each predicted class: the `confident` baseline's selection)",
                 f"    kept = confident_examples(ctx, {p.threshold:g})",
                 "    ctx.log(f\"training on {len(kept)} of {len(ctx.unlabeled)} examples\")"]
        steps = " * len(ctx.unlabeled) / len(kept)"  # same optimisation steps as on every example
    else:
        body += ["    # 2. selection: every example", "    kept = list(ctx.unlabeled)"]
        steps = ""
    # 3. weighting
    if p.weighting == "confidence":
        body += [f"    # 3. weights: the teacher's confidence |2p - 1| ** {p.weight_power:g} (mean 1)",
                 f"    raw = [abs(2 * ctx.weak_soft_labels[e.id] - 1) ** {p.weight_power:g} + 1e-3 for e in kept]",
                 "    weights = [w * len(raw) / sum(raw) for w in raw]"]
    else:
        body += ["    # 3. weights: none", "    weights = None"]
    # 4. loss and recipe
    loss = f"AuxConfidence(aux_coef={p.aux_coef:g}, warmup_frac=0.2)" if p.loss == "auxconf" else "None"
    body += [f"    # 4. loss: {'auxiliary confidence (Burns et al.)' if p.loss == 'auxconf' else 'cross-entropy'}; "
             f"recipe: lr x{p.lr_mult:g}, epochs x{p.epochs_mult:g}",
             f"    recipe = {{\"lr\": ctx.strong.config.lr * {p.lr_mult:g}, "
             f"\"epochs\": ctx.strong.config.epochs * {p.epochs_mult:g}{steps}}}"]
    # 5-6. rounds and ensemble
    train = f"ctx.strong.train(kept, round_targets, seed=seed, weights=weights, loss={loss}, **recipe)"
    body += [f"    # 5-6. {p.ensemble} student(s), {p.rounds} self-training round(s) each"
             + (f"; later rounds mix {p.relabel_mix:g} of the previous student's hard labels in" if p.rounds > 1
                else ""),
             "    outputs = []",
             f"    for member in range({p.ensemble}):",
             "        round_targets = dict(targets)",
             f"        for round_index in range({p.rounds}):",
             "            seed = ctx.seed + 100 * member + round_index",
             f"            student = {train}"]
    if p.rounds > 1:
        body += [f"            if round_index < {p.rounds - 1}:",
                 "                own = student.predict(ctx.unlabeled)",
                 f"                round_targets = {{i: (1 - {p.relabel_mix:g}) * targets[i] + {p.relabel_mix:g} * "
                 "float(own[i] > 0.5) for i in targets}"]
    body += ["        outputs.append(student.predict(ctx.test))",
             "    return {e.id: sum(o[e.id] for o in outputs) / len(outputs) for e in ctx.test}"]
    doc = [f'"""{method_name(p)}: {p.describe()}.', "",
           "Written by the aarlab evolve agent from building blocks (aarlab/agents/evolve/_program.py); "
           + (f"derived from {parent}." if parent else "a starting point of its search."),
           f"Program: {p.model_dump_json()}", '"""']
    source = [*doc, *imports, "", "", *helpers, *([""] if helpers else []),
              f"@method({method_name(p)!r}, {p.describe()!r})",
              "def run(ctx: MethodContext) -> Mapping[str, float]:", *body, ""]
    text = "\n".join(source)
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text


def program_of_source(source: str) -> Program | None:
    """The program recorded in a rendered method file's docstring (None if there is none or it does not parse)."""
    for line in source.splitlines()[:10]:
        if line.startswith("Program: "):
            try:
                return Program.model_validate(json.loads(line.removeprefix("Program: ")))
            except ValueError:
                return None
    return None
