"""Bearer-token authentication: every ``/api/v1`` route knows which agent (or the admin) is calling.

Tokens are stored as SHA-256 hashes; a looked-up agent is cached per app (agents are immutable once created).
Non-admin callers are rate-limited here, before any work is done for them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select

from aarlab.server._budget import RateLimiter
from aarlab.server._db import Database, agents
from aarlab.server._errors import ApiError
from aarlab.server._state import token_sha256

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """The caller of a request."""

    id: int
    name: str
    is_admin: bool
    budget: int | None  # None: the server's default budget


class Authenticator:
    """Resolves ``Authorization: Bearer <token>`` to a :class:`Principal` and applies the rate limit."""

    def __init__(self, db: Database, limiter: RateLimiter) -> None:
        self.db, self.limiter = db, limiter
        self._known: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def lookup(self, token_hash: str) -> Principal | None:
        """The agent holding a token hash (blocking on a cache miss)."""
        with self._lock:
            hit = self._known.get(token_hash)
        if hit is not None:
            return hit
        with self.db.reader.connect() as conn:
            row = conn.execute(select(agents.c.id, agents.c.name, agents.c.is_admin, agents.c.budget)
                               .where(agents.c.token_sha256 == token_hash)).first()
        if row is None:
            return None
        principal = Principal(row.id, row.name, bool(row.is_admin), row.budget)
        with self._lock:
            self._known[token_hash] = principal
        return principal

    def cached(self, token_hash: str) -> Principal | None:
        """The agent for a token hash if already known (non-blocking)."""
        with self._lock:
            return self._known.get(token_hash)

    def parse(self, header: str | None) -> str:
        """The token hash from an ``Authorization`` header, or a 401 saying what is wrong with it."""
        if not header:
            raise ApiError(401, "missing bearer token: send the header 'Authorization: Bearer <token>' (agents get "
                           "tokens from `aarlab server add-agent`)", _CHALLENGE)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, f"expected 'Authorization: Bearer <token>', found an {scheme!r} authorization",
                           _CHALLENGE)
        return token_sha256(token.strip())

    def admit(self, principal: Principal | None) -> Principal:
        """A 401 for an unknown token; a 429 for an agent over its request rate."""
        if principal is None:
            raise ApiError(401, "invalid bearer token: no agent holds it; check for typos or ask the campaign "
                           "admin for a token", _CHALLENGE)
        if not principal.is_admin:
            self.limiter.check(principal.name, principal.name)
        return principal


def require_admin(principal: Principal) -> None:
    """A 403 unless the caller is the admin."""
    if not principal.is_admin:
        raise ApiError(403, f"agent {principal.name!r} may not do this: the route is for the campaign admin only")
