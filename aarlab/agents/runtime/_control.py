"""Operator control as the agent loop sees it: a source it polls before every turn (the scoring service's
``ControlClient`` in a campaign; a fake in tests; :class:`NoControl` when there is no service)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class ControlMessageLike(Protocol):
    """One operator message (``aarlab.server.ControlMessage`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def body(self) -> str: ...


class ControlStateLike(Protocol):
    """What the operator wants now (``aarlab.server.ControlState`` fits): ``state`` is running, paused or
    stopped; ``budget_usd`` overrides the assignment's dollar budget when not None; ``messages`` are the operator
    messages with an id above the one polled with, oldest first."""

    @property
    def state(self) -> str: ...
    @property
    def budget_usd(self) -> float | None: ...
    @property
    def messages(self) -> Sequence[ControlMessageLike]: ...


class ControlSource(Protocol):
    """Where the loop reads operator control; ``aarlab.client.ControlClient`` fits."""

    def poll(self, since: int = 0) -> ControlStateLike:
        """The state and the messages with id > ``since``; may raise when the service cannot be reached."""
        ...


@dataclass
class StaticState:
    """A control state held in memory."""

    state: str = "running"
    budget_usd: float | None = None
    messages: list[ControlMessageLike] = field(default_factory=list)


class NoControl:
    """No operator: always running, no messages (an agent run outside a campaign's scoring service)."""

    def poll(self, since: int = 0) -> ControlStateLike:
        """Always running."""
        return StaticState()
