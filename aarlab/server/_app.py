"""The FastAPI application: routers, error bodies, OpenAPI, and the lifespan that owns the writer thread.

More routers (forum, code store) slot in through :data:`ROUTERS`; they share authentication, the writer and the
audit chain through :class:`Services`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import DataError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import aarlab
from aarlab.server import (
    _promotion,
    _routes_agents,
    _routes_control,
    _routes_forum,
    _routes_leaderboard,
    _routes_snapshots,
    _routes_submissions,
)
from aarlab.server._auth import Authenticator
from aarlab.server._budget import RateLimiter
from aarlab.server._codestore import BlobStore
from aarlab.server._errors import ApiError
from aarlab.server._ladder import LadderRules, record_rules
from aarlab.server._schemas import SubmissionRequest
from aarlab.server._schemas_forum import MAX_BODY_BYTES
from aarlab.server._scoring import load_answer_keys
from aarlab.server._services import Services
from aarlab.server._settings import ServerSettings
from aarlab.server._state import open_state
from aarlab.server._writer import Writer

ROUTERS = (_routes_agents.router, _routes_submissions.router, _routes_leaderboard.router, _routes_snapshots.router,
           _routes_forum.router, _routes_control.router, _promotion.router)
SNAPSHOT_UPLOAD = "/api/v1/snapshots"


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    """A value of the request that the database refuses to compare or store (e.g. a NUL character in a string on
    PostgreSQL), on any route, reading or writing: the client's input, so a 422 (writes reach it through the
    writer, which says the same)."""
    assert isinstance(exc, DataError)
    return JSONResponse({"detail": "the request holds a value the database cannot use (for example a NUL character "
                                   "in a string); nothing was recorded"}, status_code=422)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{_where(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    return JSONResponse({"detail": f"invalid request: {problems}"}, status_code=422)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, extra = models_json_schema([(SubmissionRequest, "validation")],
                                      ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {}).update(extra.get("$defs", {}))
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(state_dir: Path | str, settings: ServerSettings | None = None, *,
               campaign_dir: Path | str | None = None) -> FastAPI:
    """The scoring service and its dashboard over an initialized state dir (see ``aarlab server init``).

    ``campaign_dir`` is where the dashboard reads transcripts, costs and notebooks; by default the state dir's
    parent when it holds a ``campaign.json``.
    """
    from aarlab.server import dashboard

    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = open_state(state_dir)
        with state.db.reader.connect() as conn:
            keys = load_answer_keys(conn)
        writer = Writer(state.db, settings.max_batch)
        writer.start()
        await writer.apply(record_rules(LadderRules.of(settings)))  # the chain says what scored each submission
        app.state.services = Services(
            state_dir=state.path, suite=state.info.suite, settings=settings, db=state.db, writer=writer,
            keys=keys, auth=Authenticator(state.db, RateLimiter(settings.rate_per_s, settings.rate_burst)),
            store=BlobStore(settings.store_url or str(state.path / "store")))
        dashboard.start(app, app.state.services, dashboard.find_campaign_dir(
            state.path, Path(campaign_dir) if campaign_dir is not None else None))
        try:
            yield
        finally:
            writer.stop()
            state.db.dispose()

    app = FastAPI(title="aarlab scoring service", version=aarlab.__version__, lifespan=lifespan,
                  description="Custody of ground truth, budgets, public/private split, audit chain, leaderboard. "
                  "Forum and code store share the same auth and audit chain. "
                  "Every /api/v1 route needs 'Authorization: Bearer <token>'. Errors are {\"detail\": message}.")
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DataError, _data_error)
    for router in ROUTERS:
        app.include_router(router)
    dashboard.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       routes={("POST", SNAPSHOT_UPLOAD): settings.max_snapshot_bytes})
    return app


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a JSON 413, by declared length or while streaming.

    ``routes`` maps (method, exact path) to a different limit: snapshot uploads are far larger than any other body.
    """

    def __init__(self, app: ASGIApp, limit: int, routes: dict[tuple[str, str], int] | None = None) -> None:
        self.app, self.limit, self.routes = app, limit, routes or {}

    @staticmethod
    def _message(size: str, limit: int, path: str) -> str:
        hint = {SNAPSHOT_UPLOAD: "push a smaller workspace (leave out data, checkpoints and caches) or raise "
                "max_snapshot_bytes", "/api/v1/submissions": "send one prediction per test id and nothing else",
                }.get(path, f"a post body is at most {MAX_BODY_BYTES} bytes")
        return f"request body {size} exceeds the limit of {limit} bytes; {hint}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = (scope["method"], scope["path"].rstrip("/"))
        limit = self.routes.get(route, self.limit)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = JSONResponse({"detail": self._message(f"of {int(declared)} bytes", limit, route[1])},
                                    status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, self._message("(streamed)", limit, route[1]))
            return message

        await self.app(scope, counted, send)
