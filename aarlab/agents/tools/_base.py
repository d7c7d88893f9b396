"""What every tool shares: the spec the LLM sees, the result it gets back, and output clipping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

#: Characters of one tool result shown to the model (head + tail when longer).
OUTPUT_CHARS = 16_000


@dataclass(frozen=True)
class ToolSpec:
    """What the LLM sees of a tool: its name (``^[a-z_]{1,40}$``), what it does, and a JSON schema of an object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ToolResult:
    """What a tool call gave back. ``experiment``: how many W2S experiments the call ran (counted in budgets; a
    ``w2s_run`` over several seeds runs one per seed)."""

    output: str
    is_error: bool = False
    experiment: int = 0


class ToolBox(Protocol):
    """The tools of one agent. ``call`` never raises for the agent's mistakes: they come back as ``is_error``."""

    def specs(self) -> list[ToolSpec]:
        """Every tool the agent may call."""
        ...

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one tool call."""
        ...

    def notebook(self) -> str:
        """The agent's ``NOTEBOOK.md`` ("" when it has none), for context resets."""
        ...


class ToolError(Exception):
    """A mistake the agent can fix (bad path, unknown dataset, refused submission): becomes an ``is_error`` result."""


def clip(text: str, limit: int = OUTPUT_CHARS) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail with a line saying how much was cut."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut; read files in parts or filter the output ...]\n{text[-tail:]}"
