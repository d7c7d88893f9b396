"""Suites are data: a TOML file validated by :class:`SuiteSpec`. Built-in suites live beside this module.

A model reference is a hub id, a local path, or ``built:NAME`` -- a model the suite's builder wrote to
``<home>/suites/<suite>/models/NAME``. Datasets are read from ``<home>/suites/<suite>/data/<dataset>`` for built
suites, or from ``data_dir/<dataset>`` for suites that point at user data.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aarlab.suites._ground_truth import dataset_dir, suite_dir
from aarlab.w2s.train import TrainConfig


class SuiteError(ValueError):
    """A suite name, file or field is invalid; the message says which and what is valid."""


class ModelRef(BaseModel):
    """Which model plays a role, and how to read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    chat_template: bool = False
    feature_layer: int = -1


class SuiteSpec(BaseModel):
    """One W2S configuration: datasets, weak teacher, strong student and their training recipes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    description: str
    builder: Literal["tiny"] | None = None
    data_dir: str | None = None
    datasets: list[str] = Field(min_length=1)
    weak: ModelRef
    strong: ModelRef
    weak_train: TrainConfig
    strong_train: TrainConfig
    baseline_seeds: list[int] = Field(default=[0, 1, 2], min_length=1)
    build: dict[str, int | float | str] = Field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """A suite spec bound to an aarlab home: where its data and models are."""

    spec: SuiteSpec
    home: Path

    @property
    def name(self) -> str:
        """The suite's name."""
        return self.spec.name

    @property
    def root(self) -> Path:
        """Directory of the suite's built artifacts and cache."""
        return suite_dir(self.home, self.spec.name)

    def data_path(self, dataset: str) -> Path:
        """Directory of one dataset's labeled split files."""
        self.check_dataset(dataset)
        if self.spec.data_dir is not None:
            return Path(self.spec.data_dir).expanduser() / dataset
        return dataset_dir(self.home, self.spec.name, dataset)

    def model_path(self, ref: ModelRef) -> str:
        """A loadable model reference (hub id or local path)."""
        if ref.model.startswith("built:"):
            return str(self.root / "models" / ref.model.removeprefix("built:"))
        return ref.model

    def check_dataset(self, dataset: str) -> None:
        """Raise :class:`SuiteError` unless ``dataset`` belongs to this suite."""
        if dataset not in self.spec.datasets:
            raise SuiteError(
                f"unknown dataset {dataset!r} for suite {self.name!r}; valid: {', '.join(self.spec.datasets)}"
            )


def builtin_suite_names() -> list[str]:
    """Names of the suites shipped with aarlab."""
    return sorted(p.name.removesuffix(".toml") for p in resources.files("aarlab.suites").iterdir()
                  if p.name.endswith(".toml"))


def parse_suite_file(path: Path) -> SuiteSpec:
    """Read and validate a suite TOML file."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SuiteError(f"{path}: cannot read suite file: {err}") from None
    try:
        return SuiteSpec.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise SuiteError(f"{path}: invalid suite: {problems}") from None


def load_suite(name_or_path: str, home: Path) -> Suite:
    """A built-in suite by name, or a user suite from a ``.toml`` path."""
    if name_or_path.endswith(".toml"):
        return Suite(parse_suite_file(Path(name_or_path).expanduser()), home)
    names = builtin_suite_names()
    if name_or_path not in names:
        raise SuiteError(f"unknown suite {name_or_path!r}; valid: {', '.join(names)} (or a path to a .toml file)")
    path = Path(str(resources.files("aarlab.suites") / f"{name_or_path}.toml"))
    return Suite(parse_suite_file(path), home)
