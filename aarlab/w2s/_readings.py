"""Compare feature readings (layer x pooling) of one model on one dataset, in the probe lane.

Which layer and which tokens of a model carry a task is an empirical question (TESTBED.md: Gemma's middle layers beat
its last one; HumanEval candidates need pooling over the body). For each reading this runs the probe lane's story --
ceiling, a method's transfer and its PGR over seeds -- and the question-blind probe on the same reading (the answer
text alone), so a reading that only finds a shortcut shows up as such. The winner goes into the suite file as
``[readings.<dataset>.<role>]``. Features of every reading are cached like the suite's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aarlab.suites._spec import Suite, SuiteError, SuiteSpec

Reporter = Callable[[str, int, int], None]


@dataclass
class ReadingResult:
    """One reading's probe-lane scores (means over seeds; ``pgr`` is the PGR of the means)."""

    role: str
    layer: int
    pooling: str
    weak_acc: float
    strong_acc: float
    transfer_acc: float
    pgr: float | None
    pgr_ci: tuple[float, float] | None
    seed_pgrs: list[float | None]
    answer_only_acc: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def model_layers(suite: Suite, role: str) -> int:
    """Number of transformer layers of the ``"weak"`` or ``"strong"`` model (from its config.json)."""
    ref = getattr(suite.spec, role)
    path = Path(suite.model_path(ref)) / "config.json"
    if not path.is_file():
        raise SuiteError(f"cannot read the {role} model's config at {path}; build the suite first "
                         f"(`aarlab suites build {suite.name}`)")
    config = json.loads(path.read_text())
    config = config.get("text_config", config)  # multimodal wrappers keep the language model's config inside
    layers = config.get("num_hidden_layers")
    if not isinstance(layers, int):
        raise SuiteError(f"{path} has no num_hidden_layers; cannot check reading layers")
    return layers


def with_reading(suite: Suite, dataset: str, role: str, layer: int, pooling: str) -> Suite:
    """The same suite with ``dataset`` reading ``role``'s model at ``layer`` with ``pooling`` (validated)."""
    if role not in ("weak", "strong"):
        raise SuiteError(f"unknown role {role!r}; valid: weak, strong")
    suite.check_dataset(dataset)
    readings = {d: r.model_dump() for d, r in suite.spec.readings.items()}
    readings.setdefault(dataset, {"weak": {}, "strong": {}})[role] = {"feature_layer": layer, "pooling": pooling}
    try:
        spec = SuiteSpec.model_validate({**suite.spec.model_dump(), "readings": readings})
    except ValueError as err:
        raise SuiteError(f"reading layer {layer}, pooling {pooling!r} of the {role} model: {err}") from None
    return Suite(spec, suite.home)


def check_layers(layers: Sequence[int], n_layers: int, role: str) -> None:
    """Layers run from 0 (embeddings) to ``n_layers`` (the last); negative counts from the end, -1 = the last."""
    bad = [layer for layer in layers if not -(n_layers + 1) <= layer <= n_layers]
    if bad:
        raise SuiteError(f"layer(s) {bad} out of range for the {role} model: it has {n_layers} layers, read 0 "
                         f"(embeddings) .. {n_layers} (last), or -1 for the last")


def compare_readings(suite: Suite, dataset: str, layers: Sequence[int], poolings: Sequence[str],
                     seeds: Sequence[int], *, role: str = "strong", method: str = "vanilla",
                     report: Reporter = lambda *_: None) -> list[ReadingResult]:
    """Every (layer, pooling) reading of ``role``'s model on ``dataset``: probe-lane scores over ``seeds``."""
    from aarlab.w2s.methods import resolve_method
    from aarlab.w2s.pipeline import Experiment, default_cache
    from aarlab.w2s.pipeline._blind import answer_only_accuracy

    if role not in ("weak", "strong"):
        raise SuiteError(f"unknown role {role!r}; valid: weak, strong")
    suite.check_dataset(dataset)
    check_layers(layers, model_layers(suite, role), role)
    variants = [(layer, pooling, with_reading(suite, dataset, role, layer, pooling))
                for layer in layers for pooling in poolings]  # every reading validated before any runs
    run = resolve_method(method)
    results = []
    for i, (layer, pooling, variant) in enumerate(variants):
        report("readings", i, len(variants))
        experiment = Experiment(variant, dataset, default_cache(suite), lane="probe", report=report)
        blind = answer_only_accuracy(experiment, seeds, roles=[role])[role]  # same models and feature bank
        outcome = experiment.run(run, list(seeds), require_gap=False)  # no gap: accuracies stand, PGR None
        results.append(ReadingResult(role, layer, pooling, outcome.weak_acc, outcome.strong_acc,
                                     outcome.transfer_acc, outcome.pgr, outcome.pgr_ci, [s.pgr for s in outcome.seeds],
                                     blind))
    report("readings", len(variants), len(variants))
    return results


def readings_markdown(suite: Suite, dataset: str, results: Sequence[ReadingResult], seeds: Sequence[int],
                      method: str) -> str:
    """The comparison as a Markdown table (what `aarlab w2s readings --out` writes)."""
    role = results[0].role if results else "strong"
    lines = [f"# Readings of the {role} model: `{suite.name}` / `{dataset}`", "",
             f"Probe lane, method `{method}`, seeds {list(seeds)}; accuracies are means over seeds, PGR is the PGR of "
             "the means with a 95% bootstrap interval. `answer-only` is the question-blind probe read the same way "
             "(near or above the teacher, the reading finds a shortcut).", "",
             "| layer | pooling | weak_acc | strong_acc | transfer_acc | PGR [95% CI] | per seed PGR | answer-only |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        pgr = "n/a (no gap)" if r.pgr is None else f"{r.pgr:.2f}" + (
            "" if r.pgr_ci is None else f" [{r.pgr_ci[0]:.2f}, {r.pgr_ci[1]:.2f}]")
        seeds_text = " ".join("n/a" if p is None else f"{p:.2f}" for p in r.seed_pgrs)
        lines.append(f"| {r.layer} | {r.pooling} | {r.weak_acc:.3f} | {r.strong_acc:.3f} | {r.transfer_acc:.3f} | "
                     f"{pgr} | {seeds_text} | {r.answer_only_acc:.3f} |")
    return "\n".join(lines) + "\n"
