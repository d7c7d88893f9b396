"""A content-addressed cache of pipeline artifacts (weak teacher outputs, strong ceilings).

A key is the sha256 of a canonical JSON of *everything* that affects the artifact: the stage and its code
version, model fingerprints, data hashes, hyper-parameters and the seed. Entries are written atomically
(temp dir + rename) next to the resolved config that produced them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aarlab.w2s.data import Example, example_record

_LARGE = 64 * 1024 * 1024
_EDGE = 1024 * 1024


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(parts).encode()).hexdigest()


def examples_hash(examples: list[Example]) -> str:
    """sha256 of a split's full content, labels included (a relabeled split is different data)."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(canonical_json(example_record(example)).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def model_fingerprint(ref: str) -> str:
    """Identity of a model: content hash of a local directory, or the hub id itself.

    Files over 64 MiB are hashed by size plus their first and last MiB (hashing 8 GB of weights per run would
    dominate small experiments); smaller files are hashed whole.
    """
    path = Path(ref).expanduser()
    if not path.is_dir():
        return f"hub:{ref}"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        size = file.stat().st_size
        digest.update(str(size).encode())
        with file.open("rb") as fh:
            if size <= _LARGE:
                digest.update(fh.read())
            else:
                digest.update(fh.read(_EDGE))
                fh.seek(size - _EDGE)
                digest.update(fh.read(_EDGE))
    return "dir:" + digest.hexdigest()


class ArtifactCache:
    """Stores JSON artifacts under ``root/<stage>/<key>/``; ``None`` root disables caching."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _entry(self, stage: str, key: str) -> Path:
        assert self.root is not None
        return self.root / stage / key

    def get(self, stage: str, key: str) -> dict[str, Any] | None:
        """The stored artifact, or None if absent (or caching is off)."""
        if self.root is None:
            return None
        path = self._entry(stage, key) / "artifact.json"
        if not path.is_file():
            return None
        return json.loads(path.read_text())

    def put(self, stage: str, key: str, artifact: dict[str, Any], config: dict[str, Any]) -> None:
        """Store an artifact with the config that produced it (no-op if caching is off)."""
        if self.root is None:
            return
        final = self._entry(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key[:8]}."))
        try:
            (tmp / "artifact.json").write_text(json.dumps(artifact))
            (tmp / "config.json").write_text(json.dumps(config, indent=2, default=str))
            try:
                os.rename(tmp, final)
            except OSError:  # another process stored the same key first; both are equivalent
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
