"""Confidence filtering keeps both of the teacher's classes when it falls back to the most confident examples."""

from dataclasses import dataclass, field
from typing import Any

from aarlab.w2s.methods import resolve_method


@dataclass
class _Example:
    id: str


@dataclass
class _Strong:
    trained: list[list[str]] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)

    @property
    def config(self) -> Any:
        return type("Config", (), {"epochs": 2.0})()

    def train(self, examples: list[_Example], targets: Any, seed: int, epochs: float) -> Any:
        self.trained.append([e.id for e in examples])
        self.epochs.append(epochs)
        return type("Student", (), {"predict": lambda _self, test: {e.id: 0.5 for e in test}})()


@dataclass
class _Context:
    weak_soft_labels: dict[str, float]
    strong: _Strong = field(default_factory=_Strong)
    seed: int = 0
    logs: list[str] = field(default_factory=list)

    @property
    def unlabeled(self) -> list[_Example]:
        return [_Example(i) for i in self.weak_soft_labels]

    @property
    def test(self) -> list[_Example]:
        return [_Example("t")]

    def log(self, message: str) -> None:
        self.logs.append(message)

    def weak_targets(self, hard: bool = False) -> dict[str, float]:
        return {i: float(p >= 0.5) for i, p in self.weak_soft_labels.items()}


def test_a_teacher_without_confident_examples_still_teaches_both_classes() -> None:
    # 60 positives up to 0.78 (the most confident overall), 40 negatives no lower than 0.3: a top-20% cut would
    # keep positives only, and the student would learn a constant.
    soft = {f"p{i}": 0.55 + 0.23 * i / 59 for i in range(60)} | {f"n{i}": 0.30 + 0.15 * i / 39 for i in range(40)}
    ctx = _Context(soft)
    resolve_method("confident").run(ctx)  # type: ignore[arg-type]
    kept = ctx.strong.trained[0]
    assert sorted(k[0] for k in kept).count("p") == 12 and sorted(k[0] for k in kept).count("n") == 8
    assert set(kept) >= {"p59", "n0"}  # the most confident of each class
    assert ctx.strong.epochs == [2.0 * 100 / 20]  # same optimisation steps as vanilla
    assert "most confident of each predicted class" in " ".join(ctx.logs)


def test_examples_above_the_threshold_are_kept_as_they_are() -> None:
    soft = {f"p{i}": 0.95 for i in range(30)} | {f"n{i}": 0.45 for i in range(70)}
    ctx = _Context(soft)
    resolve_method("confident").run(ctx)  # type: ignore[arg-type]
    assert sorted(ctx.strong.trained[0]) == sorted(f"p{i}" for i in range(30))
