"""Predictions files: JSONL, one ``{"id": ..., "p": P(True or B)}`` per line (what methods and agents write)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The largest predictions file read from an agent's workspace (``within=``).
MAX_PREDICTIONS_BYTES = 64 * 1024 * 1024


class PredictionsFileError(ValueError):
    """A predictions file cannot be read; the message names the file and line."""


def read_predictions(path: Path | str, *, within: Path | None = None) -> tuple[list[dict[str, Any]], list[int]]:
    """The JSON object of each non-blank line and its line number (the server validates ids and values).

    With ``within`` (an agent's workspace holding ``path``), the file is read through :mod:`aarlab._agentfiles`:
    a symlink on the way, a FIFO or a file over :data:`MAX_PREDICTIONS_BYTES` is refused.
    """
    path = Path(path)
    if within is not None and path.is_absolute() and not path.is_relative_to(within):
        raise PredictionsFileError(f"{path}: not inside {within}; give a path in the workspace")
    try:
        if within is not None:
            from aarlab._agentfiles import read_agent_file

            rel = path.relative_to(within) if path.is_absolute() else path
            text = read_agent_file(within, rel.as_posix(), MAX_PREDICTIONS_BYTES).decode("utf-8")
        else:
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
