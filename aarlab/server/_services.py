"""What every route needs, held per app (never module-global): settings, database, writer, keys, auth, store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from aarlab.server._auth import Authenticator, Principal
from aarlab.server._codestore import BlobStore
from aarlab.server._db import Database
from aarlab.server._scoring import AnswerKey
from aarlab.server._settings import ServerSettings
from aarlab.server._writer import Writer


@dataclass(frozen=True)
class Services:
    """The running service's parts, built by the app's lifespan."""

    state_dir: Path
    suite: str
    settings: ServerSettings
    db: Database
    writer: Writer
    keys: dict[str, AnswerKey]
    auth: Authenticator
    store: BlobStore


async def get_services(request: Request) -> Services:
    """FastAPI dependency: the services of the app serving ``request`` (async: no threadpool hop)."""
    return request.app.state.services


async def get_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated, rate-limited caller (401/429 otherwise)."""
    auth: Authenticator = request.app.state.services.auth
    token_hash = auth.parse(request.headers.get("authorization"))
    principal = auth.cached(token_hash)
    if principal is None:
        principal = await run_in_threadpool(auth.lookup, token_hash)
    return auth.admit(principal)
