"""A content-addressed, memory-mapped store of feature matrices.

A key is the sha256 of everything that decides the numbers: the model's content fingerprint, its kind, the layer,
the pooling, the maximum length, the dtype, the extraction code version and the exact list of texts. Entries are
``<root>/<key>/features.npy`` (read back with ``mmap_mode="r"``) beside ``meta.json``; writes go through a temp
directory and a rename, so a reader never sees half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aarlab.w2s.cache import cache_key

#: Bump when extraction code changes what it produces: invalidates every cached feature matrix.
FEATURE_VERSION = 2  # 2: long texts lose their beginning (left truncation), not their answer


def texts_hash(texts: Sequence[str]) -> str:
    """sha256 of an ordered list of texts."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()


def feature_key(model_parts: dict[str, Any], texts: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """Cache key (and the parts hashed into it) of the features of ``texts`` under one model reading."""
    parts = {"feature_version": FEATURE_VERSION, **model_parts, "texts": texts_hash(texts), "n": len(texts)}
    return cache_key(parts), parts


class FeatureStore:
    """Feature matrices under ``root``; ``None`` root keeps nothing (every lookup misses)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def get(self, key: str) -> np.ndarray | None:
        """The stored matrix, memory-mapped read-only, or None."""
        if self.root is None:
            return None
        path = self.root / key / "features.npy"
        return np.load(path, mmap_mode="r") if path.is_file() else None

    def put(self, key: str, matrix: np.ndarray, parts: dict[str, Any]) -> np.ndarray:
        """Store ``matrix`` (float32) and return it memory-mapped (or as is when storing is off)."""
        if self.root is None:
            return matrix
        final = self.root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key[:8]}."))
        try:
            np.save(tmp / "features.npy", np.ascontiguousarray(matrix, dtype=np.float32))
            (tmp / "meta.json").write_text(json.dumps({**parts, "shape": list(matrix.shape)}, indent=2, default=str))
            try:
                os.rename(tmp, final)
            except OSError:  # stored concurrently by another process: equivalent content
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        stored = self.get(key)
        assert stored is not None
        return stored
