"""Suites are data: a TOML file validated by :class:`SuiteSpec`. Built-in suites live beside this module.

A model reference is a hub id, a local path, or ``built:NAME`` -- a model the suite's builder wrote to
``<home>/suites/<suite>/models/NAME``. Datasets are read from ``<home>/suites/<suite>/data/<dataset>`` for built
suites, or from ``data_dir/<dataset>`` for suites that point at user data (``data_dir`` may also be given at run
time, ``--data-dir``).

A model is a ``causal_lm`` (trainable in both lanes, classifies through label-token logits) or an ``encoder``
(a frozen feature extractor such as a sentence embedder: it only ever teaches through a probe head).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aarlab.suites._ground_truth import dataset_dir, suite_dir
from aarlab.w2s.probe._config import ProbeConfig
from aarlab.w2s.train import TrainConfig
from aarlab.w2s.train._inference import Inference, VllmOptions

Lane = Literal["finetune", "probe"]
LANES: tuple[str, ...] = ("finetune", "probe")


def _identity(model: BaseModel, later_fields: dict[str, Any]) -> dict[str, Any]:
    """``model_dump(mode="json")`` without fields added after a schema's first release while at their defaults.

    Versions and cache keys hash this, so suites built before those fields existed keep their identity.
    """
    data = model.model_dump(mode="json")
    for name, default in later_fields.items():
        if data.get(name) == default:
            data.pop(name, None)
    return data


class SuiteError(ValueError):
    """A suite name, file or field is invalid; the message says which and what is valid."""


class ModelRef(BaseModel):
    """Which model plays a role, and how to read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    kind: Literal["causal_lm", "encoder"] = "causal_lm"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    chat_template: bool = False
    feature_layer: int = -1
    pooling: Literal["last", "mean", "answer"] = "last"

    @model_validator(mode="after")
    def _encoder_is_mean_pooled(self) -> ModelRef:
        if self.kind == "encoder" and (self.pooling == "last" or self.chat_template):
            raise ValueError("an encoder model is read by mean pooling (pooling = \"mean\" or \"answer\") and has no "
                             "chat template")
        return self

    def identity(self) -> dict[str, Any]:
        """What identifies this reference in cache keys (stable for references written before kind/pooling)."""
        return _identity(self, {"kind": "causal_lm", "pooling": "last"})


class Reading(BaseModel):
    """How one dataset reads a model's features differently from the suite's default (unset = the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature_layer: int | None = None
    pooling: Literal["last", "mean", "answer"] | None = None


class DatasetReadings(BaseModel):
    """Per-dataset feature readings of the weak and the strong model (probe lane)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weak: Reading = Reading()
    strong: Reading = Reading()


class SuiteSpec(BaseModel):
    """One W2S configuration: datasets, weak teacher, strong student and their training recipes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    description: str
    builder: Literal["tiny", "cpu"] | None = None
    data_dir: str | None = None
    datasets: list[str] = Field(min_length=1)
    weak: ModelRef
    strong: ModelRef
    weak_train: TrainConfig = TrainConfig()
    strong_train: TrainConfig
    lane: Lane = "finetune"
    probe: ProbeConfig = ProbeConfig()
    baseline_seeds: list[int] = Field(default=[0, 1, 2], min_length=1)
    #: The build fails unless strong_acc - weak_acc reaches this on every dataset.
    min_gap: float = Field(default=0.10, ge=0, le=1)
    build: dict[str, int | float | str] = Field(default_factory=dict)
    #: Batched inference of fine-tuned classifiers: Hugging Face (default) or vLLM (`pip install 'aarlab[vllm]'`,
    #: GPU only; unverified on GPU so far). Training always runs in Hugging Face.
    inference: Inference = "hf"
    vllm: VllmOptions = VllmOptions()
    #: Datasets built and scorable but marked experimental: they miss the suite's acceptance bar (min_gap, or
    #: 0 < vanilla PGR < 1 over the baseline seeds); results are reported, no gap is enforced at build time.
    experimental: list[str] = Field(default_factory=list)
    #: Per-dataset feature readings, e.g. ``[readings.code.strong] pooling = "answer"`` (probe lane).
    readings: dict[str, DatasetReadings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _strong_is_trainable(self) -> SuiteSpec:
        if self.strong.kind != "causal_lm":
            raise ValueError("strong.kind must be \"causal_lm\": the student is fine-tuned (or probed) as a causal LM")
        unknown = [d for d in [*self.experimental, *self.readings] if d not in self.datasets]
        if unknown:
            raise ValueError(f"experimental / readings name {unknown}, which are not among datasets {self.datasets}")
        for role in ("weak", "strong"):
            for dataset in self.readings:
                self.ref_for(role, dataset)  # an encoder cannot be read at its last token, whatever the dataset
        return self

    def ref_for(self, role: str, dataset: str) -> ModelRef:
        """The ``"weak"`` or ``"strong"`` model reference as ``dataset`` reads it (its readings applied)."""
        ref: ModelRef = getattr(self, role)
        reading: Reading = getattr(self.readings.get(dataset, DatasetReadings()), role)
        changes = {k: v for k, v in reading.model_dump().items() if v is not None}
        return ModelRef.model_validate({**ref.model_dump(), **changes}) if changes else ref

    def identity(self) -> dict[str, Any]:
        """What identifies this suite definition (hashed into its version); stable across schema additions."""
        data = _identity(self, {"lane": "finetune", "probe": ProbeConfig().model_dump(mode="json"), "min_gap": 0.10,
                                "inference": "hf", "vllm": VllmOptions().model_dump(mode="json"),
                                "experimental": [], "readings": {}})
        data["weak"], data["strong"] = self.weak.identity(), self.strong.identity()
        return data


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
        if self.spec.builder is None:
            raise SuiteError(
                f"suite {self.name!r} reads its datasets from a directory you provide: pass --data-dir DIR (holding "
                f"{', '.join(d + '/' for d in self.spec.datasets)} each with train_label.jsonl, train_unlabel.jsonl, "
                "test.jsonl in the reference format) or set data_dir in the suite file"
            )
        return dataset_dir(self.home, self.spec.name, dataset)

    def with_data_dir(self, data_dir: Path | str) -> Suite:
        """The same suite reading its datasets from ``data_dir/<dataset>``."""
        path = Path(data_dir).expanduser().resolve()
        if not path.is_dir():
            raise SuiteError(f"data directory {path} does not exist")
        return Suite(self.spec.model_copy(update={"data_dir": str(path)}), self.home)

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
