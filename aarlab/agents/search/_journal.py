"""What the search agent leaves in its agent dir for the dashboard and ``campaign status``: ``transcript.jsonl``
(one event per line, the harness contract's shapes) and ``usage.json`` (no LLM, so no tokens and no cost)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


class Journal:
    """Appends transcript events (flushed per event) and keeps ``usage.json`` current."""

    def __init__(self, agent_dir: Path, budget_experiments: int | None, wall_s: float | None) -> None:
        self.transcript = agent_dir / "transcript.jsonl"
        self.usage_file = agent_dir / "usage.json"
        previous = self._previous_usage()
        self.usage: dict[str, Any] = {
            "model": "search", "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "llm_calls": 0,
            "experiments": int(previous.get("experiments", 0)), "submissions": int(previous.get("submissions", 0)),
            "started_at": float(previous.get("started_at", time.time())), "wall_s": 0.0, "state": "running",
            "budget": {"usd": None, "tokens": None, "wall_s": wall_s, "experiments": budget_experiments}}
        self._calls = sum(1 for _ in self._events()) if self.transcript.is_file() else 0

    def _previous_usage(self) -> dict[str, Any]:
        try:
            data = json.loads(self.usage_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _events(self) -> list[str]:
        return [line for line in self.transcript.read_text().splitlines() if line.strip()]

    def event(self, kind: str, **fields: Any) -> None:
        """Append one event ``{"t", "type", ...}``."""
        with open(self.transcript, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"t": time.time(), "type": kind, **fields}) + "\n")
            fh.flush()

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Record a tool call; returns its id for the result."""
        self._calls += 1
        call_id = f"search-{self._calls}"
        self.event("tool_call", id=call_id, name=name, input=arguments)
        return call_id

    def result(self, call_id: str, name: str, output: str, *, is_error: bool = False,
               duration_s: float = 0.0) -> None:
        """Record a tool call's result."""
        self.event("tool_result", id=call_id, name=name, output=output, is_error=is_error,
                   duration_s=round(duration_s, 3))

    def state(self, state: str, reason: str) -> None:
        """Record a state change (running, paused, stopped, done, budget_exhausted, error) in both files."""
        self.event("state", state=state, reason=reason)
        self.usage["state"] = state
        self.save()

    def count(self, *, experiments: int = 0, submissions: int = 0) -> None:
        """Add to the experiment and submission counters."""
        self.usage["experiments"] += experiments
        self.usage["submissions"] += submissions
        self.save()

    def save(self) -> None:
        """Replace ``usage.json`` atomically."""
        self.usage["wall_s"] = round(time.time() - self.usage["started_at"], 3)
        tmp = self.usage_file.with_name(f".usage.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.usage, indent=2))
        os.replace(tmp, self.usage_file)
