"""The dashboard's per-app parts and how they plug into the FastAPI app: templates, sessions, static files,
security headers and the pages' error handling."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aarlab.server._services import Services
from aarlab.server.dashboard._data import DashboardData, FlagCache, collect
from aarlab.server.dashboard._files import read_campaign
from aarlab.server.dashboard._session import Forbidden, LoginRequired, Sessions, Visitor

STATIC_PREFIX = "/dashboard/static"
#: Scripts and styles only from this server; no inline script, no framing, forms only to this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
JSON_PREFIX = "/dashboard/api/"


def _fmt_num(value: float | None, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "–"


def _fmt_time(value: float | str | None) -> str:
    if not isinstance(value, int | float | str) or value == "":
        return "–"
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fmt_duration(seconds: float | None) -> str:
    if not isinstance(seconds, int | float):
        return "–"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def template_environment() -> Environment:
    """The Jinja environment of the dashboard and the report (autoescaping every template)."""
    env = Environment(loader=PackageLoader("aarlab.server.dashboard", "templates"),
                      autoescape=select_autoescape(("html",), default=True), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_fmt_num, when=_fmt_time, duration=_fmt_duration, pretty=_pretty, svg=Markup)
    return env


@dataclass
class Dashboard:
    """The dashboard's state in one app: templates, sessions, the tripwire cache and the campaign dir."""

    env: Environment
    sessions: Sessions
    flags: FlagCache
    campaign_dir: Path | None

    def data(self, svc: Services) -> DashboardData:
        """Everything a page shows, read now (blocking: call in a thread)."""
        files = read_campaign(self.campaign_dir)
        with svc.db.reader.connect() as conn:
            return collect(conn, suite=svc.suite, files=files, default_budget=svc.settings.default_budget,
                           flag_cache=self.flags)

    def page(self, request: Request, name: str, visitor: Visitor | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        """A rendered page."""
        csrf = self.sessions.csrf_token(visitor.nonce) if visitor and visitor.nonce else ""
        html = self.env.get_template(name).render(request_path=request.url.path, visitor=visitor, csrf=csrf,
                                                  static=STATIC_PREFIX, **context)
        return HTMLResponse(html, status_code=status)


def dashboard_of(request: Request) -> Dashboard:
    """The dashboard of the app serving ``request``."""
    return request.app.state.dashboard


class SecurityHeaders:
    """Add the CSP and friends to every response of the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in SECURITY_HEADERS if h[0] not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


_SAFE_NEXT = re.compile(r"^/(?!/)[A-Za-z0-9/_.\-?=&%]*$")


def safe_next(value: str | None) -> str:
    """A same-site path to return to after login (anything else: the overview)."""
    return value if value and _SAFE_NEXT.match(value) and "\\" not in value else "/"


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.url.path.startswith(JSON_PREFIX):
        return JSONResponse({"detail": f"log in first ({exc.reason})"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(safe_next(target), safe='/')}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    if request.url.path.startswith(JSON_PREFIX):
        return JSONResponse({"detail": exc.message}, status_code=403)
    return dashboard_of(request).page(request, "error.html", None, status=403, title="Forbidden",
                                      message=exc.message)


def install(app: FastAPI) -> None:
    """Add the dashboard's routes, static files, security headers and error pages to the app."""
    from aarlab.server.dashboard import _actions, _live, _pages

    for router in (_pages.router, _actions.router, _live.router):
        app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(packages=[("aarlab.server.dashboard", "static")]), name="dashboard-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_middleware(SecurityHeaders)


def start(app: FastAPI, svc: Services, campaign_dir: Path | None) -> None:
    """Build the dashboard's state once the services exist (called by the app's lifespan)."""
    app.state.dashboard = Dashboard(template_environment(), Sessions(svc.state_dir, svc.auth), FlagCache(),
                                    campaign_dir)
