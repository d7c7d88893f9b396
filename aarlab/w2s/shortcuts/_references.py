"""Build-time shortcut references: label-free predictions that need a model (e.g. the strong model's zero-shot).

The pure predictors in :mod:`._predictors` run anywhere, the scoring service included. A shortcut that needs a
model cannot run in the service (it never imports torch), so the suite build writes its test predictions next to
the ground truth, and the service imports them at init like the pure ones::

    suites/<suite>/shortcuts/<dataset>/<shortcut>.jsonl      lines {"id": ..., "p": P(positive)}

They are outputs of label-free procedures (no label is read to make them), kept beside the ground truth only so
that agents do not get them for free.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from aarlab.w2s.data import DatasetError, write_jsonl

#: The file name of a reference is its shortcut name: lower-case words joined by '-'.
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
#: The reference every suite build should write when it can: the strong model's zero-shot test predictions.
STRONG_ZERO_SHOT = "strong-zero-shot"


def references_dir(suite_root: Path, dataset: str) -> Path:
    """Where a built suite keeps one dataset's model-based shortcut references."""
    return suite_root / "shortcuts" / dataset


def write_reference(suite_root: Path, dataset: str, name: str, probs: Mapping[str, float]) -> Path:
    """Write one shortcut's test predictions (id -> P(positive)) for the scoring service to import."""
    if not _NAME.match(name):
        raise ValueError(f"shortcut name {name!r}: expected lower-case words joined by '-', e.g. {STRONG_ZERO_SHOT!r}")
    path = references_dir(suite_root, dataset) / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, [{"id": i, "p": float(p)} for i, p in probs.items()])
    return path


def read_references(suite_root: Path, dataset: str) -> dict[str, dict[str, float]]:
    """Every model-based shortcut reference of a dataset: name -> {id -> P(positive)} (empty when none).

    A malformed line raises :class:`DatasetError` naming file and line (``server init`` reports it without a
    traceback).
    """
    directory = references_dir(suite_root, dataset)
    out: dict[str, dict[str, float]] = {}
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.jsonl")):
        if not _NAME.match(path.stem):
            continue
        probs: dict[str, float] = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                probs[str(record["id"])] = min(1.0, max(0.0, float(record["p"])))
            except (ValueError, KeyError, TypeError) as err:
                raise DatasetError(f"{path}:{number}: expected {{\"id\": ..., \"p\": number}}, found {line[:80]!r} "
                                 f"({err}); rewrite it with aarlab.w2s.shortcuts.write_reference") from None
        out[path.stem] = probs
    return out
