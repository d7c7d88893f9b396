"""Predictions files: JSONL, one ``{"id": ..., "p": P(True or B)}`` per line (what methods and agents write)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class PredictionsFileError(ValueError):
    """A predictions file cannot be read; the message names the file and line."""


def read_predictions(path: Path | str) -> tuple[list[dict[str, Any]], list[int]]:
    """The JSON object of each non-blank line and its line number (the server validates ids and values)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PredictionsFileError(f"{path}: no such predictions file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PredictionsFileError(f"{path}: cannot read it ({err})") from None
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as err:
            raise PredictionsFileError(f"{path}:{lineno}: invalid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(record, dict):
            raise PredictionsFileError(f"{path}:{lineno}: expected an object like {{\"id\": ..., \"p\": 0.7}}, "
                                       f"found {type(record).__name__}")
        records.append(record)
        lines.append(lineno)
    if not records:
        raise PredictionsFileError(f"{path}: no predictions (the file is empty)")
    return records, lines
