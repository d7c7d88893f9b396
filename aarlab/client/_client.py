"""``ScoringClient``: typed calls to the scoring service over TCP or a Unix socket."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from aarlab.server import (
    AgentCreated,
    BudgetEntry,
    DatasetInfo,
    Identity,
    Leaderboard,
    SubmissionReceipt,
)

M = TypeVar("M", bound=BaseModel)
UNIX_PREFIX = "unix://"


class ScoringError(RuntimeError):
    """The server refused a request (or could not be reached); ``status`` is 0 when there was no answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


def _transport(server: str) -> tuple[str, httpx.HTTPTransport | None]:
    if server.startswith(UNIX_PREFIX):
        path = server[len(UNIX_PREFIX):]
        if not path.startswith("/"):
            raise ScoringError(0, f"expected unix:///absolute/path.sock, found {server!r}")
        return "http://aarlab", httpx.HTTPTransport(uds=path)
    if server.startswith(("http://", "https://")):
        return server.rstrip("/"), None
    raise ScoringError(0, f"expected a server URL like http://127.0.0.1:8765 or unix:///path/to.sock, "
                       f"found {server!r}")


class ScoringClient:
    """One agent's (or the admin's) connection to the scoring service."""

    def __init__(self, server: str, token: str, *, timeout: float = 30.0) -> None:
        base, transport = _transport(server)
        self.server = server
        self._http = httpx.Client(base_url=base, transport=transport, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A successful response, or :class:`ScoringError` with the server's message."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise ScoringError(0, f"cannot reach the scoring service at {self.server} ({err}); is it "
                               "running (`aarlab server start`)?") from None
        if response.status_code >= 400:
            try:
                message = response.json()["detail"]
            except (ValueError, KeyError, TypeError):
                message = response.text.strip() or response.reason_phrase
            raise ScoringError(response.status_code, str(message))
        return response

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(self._call(method, path, **kwargs))

    def whoami(self) -> Identity:
        """Who this client's token belongs to."""
        return self._model(Identity, "GET", "/api/v1/whoami")

    def datasets(self) -> list[DatasetInfo]:
        """The scorable datasets and their fixed baselines."""
        return TypeAdapter(list[DatasetInfo]).validate_python(self._call("GET", "/api/v1/datasets"))

    def budget(self) -> list[BudgetEntry]:
        """This agent's evaluation budget per dataset."""
        return TypeAdapter(list[BudgetEntry]).validate_python(self._call("GET", "/api/v1/budget"))

    def submit(self, dataset: str, predictions: Mapping[str, float] | Iterable[Mapping[str, Any]], *,
               method: str = "default") -> SubmissionReceipt:
        """Submit P(positive) for every test id of ``dataset`` (a mapping id -> p, or ``{"id", "p"}`` records)."""
        if isinstance(predictions, Mapping):
            items: list[Any] = [{"id": i, "p": p} for i, p in predictions.items()]
        else:
            items = list(predictions)
        body = json.dumps({"dataset": dataset, "method": method, "predictions": items}).encode()
        return self._model(SubmissionReceipt, "POST", "/api/v1/submissions", content=body,
                           headers={"Content-Type": "application/json"})

    def submission(self, submission_id: str) -> SubmissionReceipt:
        """One of this agent's stored evaluations."""
        return self._model(SubmissionReceipt, "GET", f"/api/v1/submissions/{submission_id}")

    def submissions(self) -> list[SubmissionReceipt]:
        """All of this agent's stored evaluations."""
        return TypeAdapter(list[SubmissionReceipt]).validate_python(self._call("GET", "/api/v1/submissions"))

    def leaderboard(self) -> Leaderboard:
        """The leaderboard (private columns only after finalize)."""
        return self._model(Leaderboard, "GET", "/api/v1/leaderboard")

    def create_agent(self, name: str, budget: int | None = None) -> AgentCreated:
        """Admin only: create an agent and get its token."""
        return self._model(AgentCreated, "POST", "/api/v1/admin/agents", json={"name": name, "budget": budget})

    def finalize(self) -> Leaderboard:
        """Admin only: end the campaign and get the final table."""
        return self._model(Leaderboard, "POST", "/api/v1/admin/finalize")
