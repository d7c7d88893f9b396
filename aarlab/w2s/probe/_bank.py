"""Features of *examples* under one model reading, computed once and looked up by text afterwards.

A binary example is read from its classification prompt. A comparison example is read from its whole prompt
(``comparison="joint"``) or as f(prompt + first) - f(prompt + second), each side formatted as a binary prompt
(``comparison="difference"``, what works for sentence embedders that pool over all tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aarlab.w2s.data import BinaryExample, ComparisonExample, Example, format_prompt
from aarlab.w2s.probe._config import ProbeConfig
from aarlab.w2s.probe._extract import FeatureExtractor
from aarlab.w2s.probe._store import FeatureStore, feature_key

ProgressFn = Callable[[int, int], None]


def example_texts(example: Example, comparison: str) -> list[str]:
    """The texts a feature of ``example`` is read from (two for a comparison read as a difference)."""
    if comparison == "difference" and isinstance(example, ComparisonExample):
        return [format_prompt(BinaryExample(id=example.id, question=example.prompt, choice=answer))
                for answer in (example.first, example.second)]
    return [format_prompt(example)]


class FeatureBank:
    """Feature matrices of examples for one (model, layer, pooling); the model loads only on a cache miss.

    ``model_parts`` identifies the reading in cache keys (fingerprint, kind, layer, pooling, ...). Every matrix
    computed or loaded is indexed by text, so subsets and reorderings of known examples cost nothing.
    """

    def __init__(self, store: FeatureStore, model_parts: dict[str, Any], load: Callable[[], FeatureExtractor],
                 config: ProbeConfig, progress: ProgressFn | None = None) -> None:
        self.store = store
        self.model_parts = model_parts
        self._load = load
        self._extractor: FeatureExtractor | None = None
        self.config = config
        self._progress = progress
        self._index: dict[str, tuple[np.ndarray, int]] = {}

    @property
    def extractor(self) -> FeatureExtractor:
        """The loaded model (loaded on first use)."""
        if self._extractor is None:
            self._extractor = self._load()
        return self._extractor

    def _remember(self, texts: Sequence[str], matrix: np.ndarray) -> np.ndarray:
        for row, text in enumerate(texts):
            self._index.setdefault(text, (matrix, row))
        return matrix

    def text_matrix(self, texts: Sequence[str]) -> np.ndarray:
        """Features of ``texts``: float32 [n, hidden] (cached under the exact list of texts)."""
        key, parts = feature_key(self.model_parts, texts)
        stored = self.store.get(key)
        if stored is not None:
            self._remember(texts, stored)
            return np.asarray(stored)
        missing = list(dict.fromkeys(t for t in texts if t not in self._index))
        if missing:
            fresh = self.extractor(missing, self.config.feature_batch_size, self._progress)
            self._remember(missing, fresh)
        matrix = np.stack([self._index[t][0][self._index[t][1]] for t in texts]).astype(np.float32)
        return np.asarray(self._remember(texts, self.store.put(key, matrix, parts)))

    def matrix(self, examples: Sequence[Example]) -> np.ndarray:
        """One feature vector per example: float32 [n, hidden]."""
        per_example = [example_texts(e, self.config.comparison) for e in examples]
        width = {len(t) for t in per_example}
        flat = [t for texts in per_example for t in texts]
        rows = self.text_matrix(flat)
        if width == {2}:
            return rows[0::2] - rows[1::2]
        return rows
