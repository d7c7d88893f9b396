"""Read-only access to a built suite's ground truth and fixed baselines, without importing torch.

This is what the scoring service imports. Layout of a built suite under the aarlab home::

    suites/<suite>/data/<dataset>/{train_label,train_unlabel,test}.jsonl   (labels included)
    suites/<suite>/baselines.json                                         (weak_acc / strong_acc per dataset)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from aarlab.w2s.data import Example, TaskKind, read_split


class SuiteNotBuiltError(RuntimeError):
    """The suite's artifacts are missing; the message says how to build them."""


class DatasetBaseline(BaseModel):
    """Fixed baselines of one dataset: means over the baseline seeds."""

    model_config = ConfigDict(extra="forbid")

    weak_acc: float = Field(ge=0, le=1)
    strong_acc: float = Field(ge=0, le=1)
    vanilla_transfer_acc: float | None = Field(default=None, ge=0, le=1)
    seeds: list[int]


class SuiteBaselines(BaseModel):
    """``baselines.json``: written once when the suite is built, versioned."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    version: str
    datasets: dict[str, DatasetBaseline]
    #: Where the labeled datasets were read from when they are not under the suite dir (user data, ``--data-dir``).
    data_dir: str | None = None


@dataclass(frozen=True)
class DatasetGroundTruth:
    """The labeled test split of one dataset and its fixed baselines."""

    name: str
    kind: TaskKind
    test: list[Example]
    baseline: DatasetBaseline


def suite_dir(home: Path, suite: str) -> Path:
    """Directory holding a suite's built artifacts."""
    return home / "suites" / suite


def dataset_dir(home: Path, suite: str, dataset: str) -> Path:
    """Directory holding one dataset's labeled split files."""
    return suite_dir(home, suite) / "data" / dataset


def read_baselines(home: Path, suite: str) -> SuiteBaselines:
    """Parse ``baselines.json`` of a built suite."""
    path = suite_dir(home, suite) / "baselines.json"
    if not path.is_file():
        raise SuiteNotBuiltError(
            f"suite {suite!r} is not built under {home} (no {path.name}); run `aarlab suites build {suite}`"
        )
    return SuiteBaselines.model_validate(json.loads(path.read_text()))


def load_ground_truth(home: Path, suite: str) -> dict[str, DatasetGroundTruth]:
    """Labeled test splits and baselines of every dataset of a built suite, keyed by dataset name."""
    baselines = read_baselines(home, suite)
    out: dict[str, DatasetGroundTruth] = {}
    for name, baseline in baselines.datasets.items():
        directory = Path(baselines.data_dir) / name if baselines.data_dir else dataset_dir(home, suite, name)
        loaded = read_split(directory / "test.jsonl", derive_ids=baselines.data_dir is not None)
        out[name] = DatasetGroundTruth(name=name, kind=loaded.kind, test=loaded.examples, baseline=baseline)
    return out
