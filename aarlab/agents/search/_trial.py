"""One search trial, run *inside* an agent's sandbox: a built-in method with tuned training hyper-parameters on
the agent-visible copy of a dataset (``/data/<dataset>/``), writing test predictions for submission.

It needs no ground truth: inputs come from the visible copy (no labels, the weak teacher's soft labels), the
strong model from the suite's ``models/`` directory (mounted read-only). The suite's ``data/`` and artifact
cache (which hold labels) are never mounted; scores come only from the scoring service.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


def run_trial(config: TrialConfig, *, suite_name: str, home: Path, data_dir: Path, dataset: str, seed: int,
              out: Path) -> int:
    """Run ``config`` on ``data_dir/dataset`` and write ``out`` as JSONL ``{id, p}``; returns the line count."""
    import torch

    from aarlab.suites import load_suite
    from aarlab.w2s.data import read_split, write_jsonl
    from aarlab.w2s.methods import MethodContext, resolve_method, validate_predictions
    from aarlab.w2s.methods._strong import StrongModel
    from aarlab.w2s.models import load_causal_lm

    torch.set_num_threads(1)
    suite = load_suite(suite_name, home)
    spec = suite.spec
    folder = data_dir / dataset
    unlabeled = read_split(folder / "train_unlabel.jsonl")
    test = read_split(folder / "test.jsonl", kind=unlabeled.kind)
    soft: dict[str, float] = {}
    for line in (folder / "weak_soft_labels.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            soft[str(record["id"])] = float(record["p"])
    loaded = load_causal_lm(suite.model_path(spec.strong), dtype=spec.strong.dtype,
                            chat_template=spec.strong.chat_template)
    inner = StrongModel(loaded, unlabeled.kind, spec.strong_train, feature_layer=spec.strong.feature_layer)
    overrides = {"lr": spec.strong_train.lr * config.lr_mult, "epochs": spec.strong_train.epochs * config.epochs_mult}
    method = resolve_method(config.method)
    with tempfile.TemporaryDirectory(prefix="trial-") as scratch:
        ctx = MethodContext(dataset=dataset, kind=unlabeled.kind, unlabeled=unlabeled.examples,
                            weak_soft_labels=soft, test=test.examples,
                            strong=_TunedStrong(inner, overrides),  # type: ignore[arg-type]
                            seed=seed, scratch_dir=Path(scratch), log=lambda m: print(m, file=sys.stderr))
        result = method.run(ctx)
    predictions = validate_predictions(result, test.examples, method.name)
    write_jsonl(out, [{"id": i, "p": p} for i, p in predictions.items()])
    return len(predictions)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aarlab.agents.search.trial --config JSON ...`` (what the search agent runs in its sandbox)."""
    parser = argparse.ArgumentParser(prog="python -m aarlab.agents.search.trial", description=__doc__)
    parser.add_argument("--config", required=True, help="TrialConfig as JSON")
    parser.add_argument("--suite", required=True)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--data-dir", default=Path("/data"), type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    config = TrialConfig.model_validate_json(args.config)
    count = run_trial(config, suite_name=args.suite, home=args.home, data_dir=args.data_dir, dataset=args.dataset,
                      seed=args.seed, out=args.out)
    print(json.dumps({"predictions": count, "out": str(args.out)}))
    return 0
