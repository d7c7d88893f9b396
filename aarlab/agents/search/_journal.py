"""What the search agent leaves in its agent dir for the dashboard and ``campaign status``: ``transcript.jsonl``
and ``usage.json``, written by the same :class:`Transcript` and :class:`Ledger` as the LLM runtime's (no LLM, so
no tokens and no cost)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aarlab.agents.runtime._ledger import Budget, Ledger, Usage
from aarlab.agents.runtime._transcript import Transcript, read_events

MODEL = "search"


class Journal:
    """Appends transcript events (flushed per event) and keeps ``usage.json`` current."""

    def __init__(self, agent_dir: Path, budget_experiments: int | None, deadline: float | None) -> None:
        usage_file = agent_dir / "usage.json"
        budget = Budget(deadline=deadline, experiments=budget_experiments)
        try:
            self.ledger = Ledger.open(usage_file, MODEL, budget)
        except RuntimeError:  # an unreadable usage.json: count again from zero rather than stop the search
            self.ledger = Ledger(usage_file, Usage(model=MODEL), budget)
        path = agent_dir / "transcript.jsonl"
        self._calls = len(read_events(path))
        self.transcript = Transcript(path)

    @property
    def usage(self) -> Usage:
        """The totals so far."""
        return self.ledger.usage

    def event(self, kind: str, **fields: Any) -> None:
        """Append one event ``{"t", "type", ...}``."""
        self.transcript.write(kind, **fields)

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
        self.usage.state = state
        self.ledger.save()

    def count(self, *, experiments: int = 0, submissions: int = 0) -> None:
        """Add to the experiment and submission counters."""
        self.usage.experiments += experiments
        self.usage.submissions += submissions
        self.ledger.save()
