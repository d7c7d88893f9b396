"""One label-free experiment, run *inside* an agent's sandbox: a method (built-in name, or a method file in the
workspace written with the plug-in API of :mod:`aarlab.w2s.methods`) on the agent-visible copy of a dataset
(``/data/<dataset>/``) in either lane, writing test predictions for submission.

It needs no ground truth: inputs come from the visible copy (no labels, the weak teacher's soft labels), the
strong model from the suite's ``models/`` directory (mounted read-only). The suite's ``data/`` and artifact
cache (which hold labels) are never mounted; scores come only from the scoring service. In the probe lane the
strong model's frozen features are cached in a directory of the agent's own (default ``~/.cache/features``, i.e.
inside ``/workspace``), so a second probe experiment on the same dataset costs seconds.

    python -m aarlab.agents.search.trial --suite tiny --home H --dataset math --method methods/mine.py \
        --lane probe --overrides '{"head": "mlp"}' --out predictions/math-mine-s0.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import numpy as np

    from aarlab.suites import Suite
    from aarlab.w2s.data import TaskKind
    from aarlab.w2s.methods._probe_strong import ProbeStrongModel
    from aarlab.w2s.methods._strong import StrongModel


class TrialConfig(BaseModel):
    """What one trial runs: a method and multipliers of the suite's strong training recipe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    lr_mult: float = Field(1.0, gt=0, description="Multiplier of the suite's strong learning rate")
    epochs_mult: float = Field(1.0, gt=0, description="Multiplier of the suite's strong epochs")

    def describe(self) -> str:
        """One line for logs and forum posts."""
        return f"{self.method} lr×{self.lr_mult:.3g} epochs×{self.epochs_mult:.3g}"


class _TunedStrong:
    """The strong-model handle a method receives, with the trial's training overrides applied by default.

    ``config`` reports the tuned recipe, so methods that scale epochs from it (``confident``) scale the tuned one.
    """

    def __init__(self, inner: Any, overrides: Mapping[str, object]) -> None:
        self._inner = inner
        self._overrides = dict(overrides)
        self.config = inner.config.with_overrides(**self._overrides)
        self.lane = inner.lane
        self.kind = inner.kind

    def train(self, examples: Any, targets: Any, *, seed: int, **kwargs: Any) -> Any:
        """Fine-tune with the trial's overrides, unless the method sets a field itself."""
        return self._inner.train(examples, targets, seed=seed, **{**self._overrides, **kwargs})

    def __getattr__(self, name: str) -> Any:  # predict/features/zero_shot pass through
        return getattr(self._inner, name)


def read_soft_labels(path: Path) -> dict[str, float]:
    """The weak teacher's P(positive) by example id from ``weak_soft_labels.jsonl``."""
    soft: dict[str, float] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            soft[str(record["id"])] = float(record["p"])
    return soft


def strong_handle(suite: Suite, kind: TaskKind, lane: str, feature_cache: Path) -> StrongModel | ProbeStrongModel:
    """The label-free strong-model handle of ``lane``, built from the suite's model alone.

    Mirrors ``Experiment.strong_handle`` (which needs the suite's labelled data and so cannot run here).
    """
    import numpy as np

    from aarlab.w2s.cache import model_fingerprint
    from aarlab.w2s.methods._probe_strong import ProbeStrongModel
    from aarlab.w2s.methods._strong import StrongModel, fresh_head
    from aarlab.w2s.models import load_causal_lm
    from aarlab.w2s.probe import FeatureBank, FeatureExtractor, FeatureStore
    from aarlab.w2s.train import predict_proba

    spec = suite.spec
    ref = spec.strong
    path = suite.model_path(ref)
    loaded = load_causal_lm(path, dtype=ref.dtype, chat_template=ref.chat_template)
    if lane == "finetune":
        return StrongModel(loaded, kind, spec.strong_train, feature_layer=ref.feature_layer)
    fingerprint = model_fingerprint(path)
    store = FeatureStore(feature_cache)
    parts = {"model": fingerprint, "kind": ref.kind, "layer": ref.feature_layer, "pooling": ref.pooling,
             "dtype": ref.dtype, "chat_template": ref.chat_template, "max_length": spec.probe.max_length}

    def extractor() -> FeatureExtractor:
        return FeatureExtractor(loaded.model, loaded.tokenizer, ref.kind, ref.feature_layer, ref.pooling,
                                spec.probe.max_length, ref.chat_template)

    def read_zero_shot(prompts: list[str]) -> np.ndarray:
        head = fresh_head(loaded, kind, spec.strong_train, copy_weights=False)
        return predict_proba(head, prompts, spec.strong_train.eval_batch_size).astype(np.float32)

    zero_shot_parts = {"model": fingerprint, "dtype": ref.dtype, "chat_template": ref.chat_template,
                       "max_length": spec.strong_train.max_length, "kind": kind}
    return ProbeStrongModel(FeatureBank(store, parts, extractor, spec.probe), kind, spec.probe, read_zero_shot,
                            zero_shot_parts, store)


def run_experiment(method_ref: str, *, suite_name: str, home: Path, data_dir: Path, dataset: str, seed: int,
                   out: Path, lane: str | None = None, overrides: Mapping[str, object] | None = None,
                   feature_cache: Path | None = None, weak_labels: str = "teacher") -> dict[str, Any]:
    """Run a method (name or ``.py`` path) on ``data_dir/dataset`` and write ``out`` as JSONL ``{id, p}``.

    ``overrides`` replace fields of the lane's training recipe (``TrainConfig`` in the fine-tune lane,
    ``ProbeConfig`` in the probe lane) unless the method sets them itself. ``weak_labels="shuffled"`` hands the
    method the teacher's soft labels permuted over the examples (seeded by ``seed``): the label-dependence control,
    label-free, that an agent can run on its own methods. Returns a summary (method, lane, predictions count, out).
    """
    from aarlab._threads import pick_threads, use_threads
    from aarlab.suites import load_suite
    from aarlab.suites._spec import LANES
    from aarlab.w2s.data import read_split, write_jsonl
    from aarlab.w2s.methods import MethodContext, MethodError, resolve_method, validate_predictions

    use_threads(pick_threads())  # in a sandbox: the share its host set in $AARLAB_THREADS
    suite = load_suite(suite_name, home)
    lane = lane or suite.spec.lane
    if lane not in LANES:
        raise MethodError(f"unknown lane {lane!r}; valid: {', '.join(LANES)}")
    folder = data_dir / dataset
    if not (folder / "test.jsonl").is_file():
        available = sorted(p.name for p in data_dir.iterdir() if p.is_dir()) if data_dir.is_dir() else []
        raise MethodError(f"no dataset {dataset!r} in {data_dir}; available: {', '.join(available) or 'none'}")
    method = resolve_method(method_ref)  # before loading the model: a broken method file fails fast
    unlabeled = read_split(folder / "train_unlabel.jsonl")
    test = read_split(folder / "test.jsonl", kind=unlabeled.kind)
    soft = read_soft_labels(folder / "weak_soft_labels.jsonl")
    if weak_labels == "shuffled":
        from aarlab.w2s.pipeline import shuffled_soft_labels

        soft = shuffled_soft_labels(soft, seed)
    elif weak_labels != "teacher":
        raise MethodError(f"weak_labels must be teacher or shuffled; found {weak_labels!r}")
    inner = strong_handle(suite, unlabeled.kind, lane, feature_cache or Path.home() / ".cache" / "features")
    try:
        strong = _TunedStrong(inner, overrides or {})
    except ValueError as err:
        raise MethodError(f"invalid overrides for the {lane} lane: {err}") from None
    with tempfile.TemporaryDirectory(prefix="trial-") as scratch:
        ctx = MethodContext(dataset=dataset, kind=unlabeled.kind, unlabeled=unlabeled.examples,
                            weak_soft_labels=soft, test=test.examples,
                            strong=strong,  # type: ignore[arg-type]
                            seed=seed, scratch_dir=Path(scratch), log=lambda m: print(m, file=sys.stderr),
                            lane=lane)
        result = method.run(ctx)
    predictions = validate_predictions(result, test.examples, method.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, [{"id": i, "p": p} for i, p in predictions.items()])
    return {"method": method.name, "lane": lane, "dataset": dataset, "seed": seed, "predictions": len(predictions),
            "out": str(out), "weak_labels": weak_labels}


def run_trial(config: TrialConfig, *, suite_name: str, home: Path, data_dir: Path, dataset: str, seed: int,
              out: Path) -> int:
    """Run a search configuration (fine-tune lane, tuned lr and epochs); returns the predictions count."""
    from aarlab.suites import load_suite

    recipe = load_suite(suite_name, home).spec.strong_train
    overrides = {"lr": recipe.lr * config.lr_mult, "epochs": recipe.epochs * config.epochs_mult}
    summary = run_experiment(config.method, suite_name=suite_name, home=home, data_dir=data_dir, dataset=dataset,
                             seed=seed, out=out, lane="finetune", overrides=overrides)
    return int(summary["predictions"])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aarlab.agents.search.trial (--config JSON | --method M) ...`` (runs in an agent's sandbox)."""
    from aarlab.w2s.methods import MethodError

    parser = argparse.ArgumentParser(prog="python -m aarlab.agents.search.trial", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", help="A search TrialConfig as JSON (fine-tune lane, lr/epochs multipliers)")
    what.add_argument("--method", help="A built-in method name or a method .py file (the plug-in API)")
    parser.add_argument("--suite", required=True)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--data-dir", default=Path("/data"), type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lane", choices=("finetune", "probe"), help="Default: the suite's lane (with --method)")
    parser.add_argument("--overrides", default="{}", help="JSON object of training-recipe fields (with --method)")
    parser.add_argument("--feature-cache", type=Path, help="Probe lane feature cache (default ~/.cache/features)")
    parser.add_argument("--weak-labels", choices=("teacher", "shuffled"), default="teacher",
                        help="shuffled: the teacher's soft labels permuted over the examples (with --method; the "
                             "label-dependence control)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        if args.config is not None:
            config = TrialConfig.model_validate_json(args.config)
            count = run_trial(config, suite_name=args.suite, home=args.home, data_dir=args.data_dir,
                              dataset=args.dataset, seed=args.seed, out=args.out)
            summary: dict[str, Any] = {"predictions": count, "out": str(args.out)}
        else:
            overrides = json.loads(args.overrides)
            if not isinstance(overrides, dict):
                raise MethodError(f"--overrides must be a JSON object, found {args.overrides!r}")
            summary = run_experiment(args.method, suite_name=args.suite, home=args.home, data_dir=args.data_dir,
                                     dataset=args.dataset, seed=args.seed, out=args.out, lane=args.lane,
                                     overrides=overrides, feature_cache=args.feature_cache,
                                     weak_labels=args.weak_labels)
    except (MethodError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0
