"""``ControlClient``: an agent harness polls its control state; the admin pauses, messages and re-budgets agents."""

from __future__ import annotations

from typing import Literal, Self

from aarlab.client._client import ScoringClient, ScoringError
from aarlab.server import ControlMessage, ControlState


class ControlClient:
    """Operator control over TCP (``base_url``) or the campaign's Unix socket (``uds``).

    With ``uds`` the host of ``base_url`` is not used; a ``unix:///path.sock`` ``base_url`` works too, as for
    :class:`ScoringClient`. Errors are :class:`ScoringError` with the server's message.
    """

    def __init__(self, base_url: str = "http://aarlab", token: str = "", uds: str | None = None, *,
                 timeout: float = 30.0) -> None:
        if not token:
            raise ScoringError(0, "ControlClient needs a bearer token (the agent's own, or the admin's)")
        if uds is not None and not uds.startswith("/"):
            raise ScoringError(0, f"expected an absolute Unix socket path, found {uds!r}")
        self._client = ScoringClient(f"unix://{uds}" if uds is not None else base_url, token, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def poll(self, since: int = 0) -> ControlState:
        """The calling agent's state and the operator messages with id > ``since`` (oldest first)."""
        return self._client._model(ControlState, "GET", "/api/v1/agents/me/control", params={"since": since})

    def set_state(self, name: str, action: Literal["pause", "resume", "stop"]) -> ControlState:
        """Admin only: pause, resume or stop agent ``name``."""
        return self._client._model(ControlState, "POST", f"/api/v1/admin/agents/{name}/control",
                                   json={"action": action})

    def message(self, name: str, body: str) -> ControlMessage:
        """Admin only: leave a message for agent ``name`` (1..4000 characters)."""
        return self._client._model(ControlMessage, "POST", f"/api/v1/admin/agents/{name}/messages",
                                   json={"body": body})

    def budget(self, name: str, usd: float | None = None, evaluations: int | None = None) -> ControlState:
        """Admin only: set agent ``name``'s dollar budget and/or evaluations per dataset (None leaves it)."""
        return self._client._model(ControlState, "POST", f"/api/v1/admin/agents/{name}/budget",
                                   json={"usd": usd, "evaluations": evaluations})
