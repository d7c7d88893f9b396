"""The strong-model handle of the probe lane: same methods as :class:`StrongModel`, heads on frozen features.

``train`` fits a head (logistic regression with cross-validated L2, or a small MLP) on cached features of the
strong model and returns a :class:`ProbeStudent` with the same ``predict``; a method written for the fine-tune lane
runs here unchanged. ``zero_shot`` reads the frozen model's label-token logits (cached like features).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from aarlab.w2s.data import Example, TaskKind, format_prompt, format_zero_shot_prompt
from aarlab.w2s.probe import FeatureBank, ProbeConfig, ProbeHead, fit_head
from aarlab.w2s.probe._store import FeatureStore, feature_key
from aarlab.w2s.train import Loss

Targets = Mapping[str, float] | Sequence[float] | np.ndarray


def target_list(examples: Sequence[Example], targets: Targets) -> list[float]:
    """Targets in the order of ``examples`` (from a mapping by id, or already in order)."""
    if isinstance(targets, Mapping):
        missing = [e.id for e in examples if e.id not in targets]
        if missing:
            raise KeyError(f"no target for {len(missing)} training examples, e.g. {missing[:3]}")
        return [float(targets[e.id]) for e in examples]
    values = [float(t) for t in targets]
    if len(values) != len(examples):
        raise ValueError(f"{len(examples)} examples but {len(values)} targets")
    return values


class ProbeStudent:
    """A head trained on frozen strong features."""

    def __init__(self, head: ProbeHead, bank: FeatureBank) -> None:
        self.head = head
        self._bank = bank

    def predict(self, examples: Sequence[Example]) -> dict[str, float]:
        """P(positive: True / B) per example id."""
        probs = self.head.predict(self._bank.matrix(examples))
        return {e.id: float(p) for e, p in zip(examples, probs, strict=True)}

    def features(self, examples: Sequence[Example], layer: int | None = None) -> np.ndarray:
        """The frozen features the head reads: [n, hidden] (a probe does not change them)."""
        return self._bank.matrix(examples)


class ProbeStrongModel:
    """What a method may do with the strong model in the probe lane. It holds no labels."""

    lane = "probe"

    def __init__(self, bank: FeatureBank, kind: TaskKind, config: ProbeConfig,
                 zero_shot_reader: Callable[[list[str]], np.ndarray], zero_shot_parts: dict[str, Any],
                 store: FeatureStore) -> None:
        self._bank = bank
        self.kind = kind
        self.config = config
        self._read_zero_shot = zero_shot_reader
        self._zero_shot_parts = zero_shot_parts
        self._store = store

    def train(self, examples: Sequence[Example], targets: Targets, *, seed: int, loss: Loss | None = None,
              weights: Sequence[float] | np.ndarray | None = None, **overrides: object) -> ProbeStudent:
        """Fit a fresh head on ``targets`` (P(positive), by id or in order) and return it.

        ``overrides`` replace fields of the suite's probe config (e.g. ``epochs=60``, ``head="mlp"``).
        """
        config = self.config.with_overrides(**overrides) if overrides else self.config
        values = target_list(examples, targets)
        head = fit_head(self._bank.matrix(examples), np.asarray(values), config, seed, loss=loss,
                        weights=None if weights is None else np.asarray(weights, dtype=np.float32))
        return ProbeStudent(head, self._bank)

    def zero_shot(self, examples: Sequence[Example], *, claim: bool = False) -> dict[str, float]:
        """The frozen strong model's P(positive) from label-token logits (``claim=True``: judge-a-claim prompt)."""
        fmt = format_zero_shot_prompt if claim else format_prompt
        prompts = [fmt(e) for e in examples]
        key, parts = feature_key({**self._zero_shot_parts, "reading": "zero_shot"}, prompts)
        stored = self._store.get(key)
        if stored is None:
            stored = self._store.put(key, self._read_zero_shot(prompts).reshape(-1, 1), parts)
        return {e.id: float(p) for e, p in zip(examples, np.asarray(stored)[:, 0], strict=True)}

    def features(self, examples: Sequence[Example], layer: int | None = None) -> np.ndarray:
        """Frozen strong features of the suite's layer and pooling: [n, hidden] (cached)."""
        if layer is not None:
            raise ValueError("the probe lane reads the suite's strong.feature_layer only; drop layer= or set "
                             "strong.feature_layer in the suite file")
        return self._bank.matrix(examples)
