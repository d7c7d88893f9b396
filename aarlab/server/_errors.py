"""Errors the API answers with: an HTTP status and one human-readable message (``{"detail": "..."}``)."""

from __future__ import annotations


class ApiError(Exception):
    """A request the server refuses; ``message`` says what was expected, what was found and what to do."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
