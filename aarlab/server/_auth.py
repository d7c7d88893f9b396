"""Bearer-token authentication: every ``/api/v1`` route knows which agent (or the admin) is calling.

Tokens are stored as SHA-256 hashes; a looked-up agent is cached per app for :data:`CACHE_TTL_S` seconds (an
agent's budget can change: the process that changes it calls :meth:`Authenticator.forget`, other processes see
the change when their cached entry expires). Non-admin callers are rate-limited here, before any work is done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from aarlab.server._budget import RateLimiter
from aarlab.server._db import Database, agents
from aarlab.server._errors import ApiError
from aarlab.server._state import token_sha256

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
#: How long a looked-up principal is trusted before it is read again (bounds how stale a budget can be).
CACHE_TTL_S = 5.0


@dataclass(frozen=True)
class Principal:
    """The caller of a request."""

    id: int
    name: str
    is_admin: bool
    budget: int | None  # None: the server's default budget


class Authenticator:
    """Resolves ``Authorization: Bearer <token>`` to a :class:`Principal` and applies the rate limit."""

    def __init__(self, db: Database, limiter: RateLimiter, *, ttl_s: float = CACHE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db, self.limiter, self.ttl_s, self.clock = db, limiter, ttl_s, clock
        self._known: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def lookup(self, token_hash: str) -> Principal | None:
        """The agent holding a token hash (blocking on a cache miss)."""
        hit = self.cached(token_hash)
        if hit is not None:
            return hit
        with self.db.reader.connect() as conn:
            row = conn.execute(select(agents.c.id, agents.c.name, agents.c.is_admin, agents.c.budget)
                               .where(agents.c.token_sha256 == token_hash)).first()
        if row is None:
            return None
        principal = Principal(row.id, row.name, bool(row.is_admin), row.budget)
        with self._lock:
            self._known[token_hash] = (principal, self.clock() + self.ttl_s)
        return principal

    def cached(self, token_hash: str) -> Principal | None:
        """The agent for a token hash if known and not expired (non-blocking)."""
        with self._lock:
            hit = self._known.get(token_hash)
            if hit is None:
                return None
            if hit[1] < self.clock():
                del self._known[token_hash]
                return None
            return hit[0]

    def forget(self, agent_id: int) -> None:
        """Drop the cached principal of an agent (after its budget changed), so the next request reads it anew."""
        with self._lock:
            for key in [k for k, (p, _) in self._known.items() if p.id == agent_id]:
                del self._known[key]

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
