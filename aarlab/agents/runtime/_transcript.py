"""``transcript.jsonl``: every event of an agent's run, appended and flushed as it happens.

Event types (each with ``t``, unix seconds, and ``type``): ``message`` (role, content), ``tool_call`` (id, name,
input), ``tool_result`` (id, name, output, is_error, duration_s), ``operator`` (content, message_id),
``compaction`` (summary, dropped_messages, notebook), ``usage`` (model, tokens, cost_usd), ``state`` (state,
reason). Readers ignore unknown keys.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any


class Transcript:
    """Appends events to one transcript file; a crash loses at most the event being written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, type: str, **fields: Any) -> dict[str, Any]:  # noqa: A002 (the contract's key)
        """Append one event (``t`` and ``type`` added) and flush it to the OS; returns the event."""
        event = {"t": time.time(), "type": type, **fields}
        self._file.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._file.flush()
        return event

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a transcript ([] when absent). A last line cut short by a crash is dropped and the file
    truncated back to the last complete event, so that appends stay valid JSON lines; a bad line elsewhere is
    skipped."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    lines = raw.splitlines(keepends=True)
    events: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        event = _parse(line)
        if event is not None:
            events.append(event)
        elif index == len(lines) - 1:
            with path.open("r+b") as f:
                f.truncate(len(raw) - len(line))
    return events


def _parse(line: bytes) -> dict[str, Any] | None:
    if not line.endswith(b"\n"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "type" in event else None
