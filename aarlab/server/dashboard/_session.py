"""Who is looking at the dashboard: the admin, a read-only viewer, or nobody allowed.

Three ways in: ``Authorization: Bearer <token>`` on every request; or the login form, which sets a signed cookie
(HttpOnly, SameSite=Strict). The cookie holds a role, the SHA-256 of the token used (never the token), an expiry
and a random nonce, signed with a key derived from the state dir's secret; every request re-checks that the token
hash still belongs to the admin (or the viewer), so rotating a token ends its sessions. Forms carry a CSRF token
bound to the session's nonce. Agent tokens never open the dashboard.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from aarlab.server._auth import Authenticator
from aarlab.server._errors import ApiError
from aarlab.server._state import _write_private, new_token, token_sha256

COOKIE = "aarlab_session"
SESSION_TTL_S = 12 * 3600
VIEWER_TOKEN_FILE = "viewer.token"
Role = Literal["admin", "viewer"]
#: The only texts ``GET /login?error=CODE`` may show: a link can pick a code, never the words on the page.
LOGIN_ERRORS = {
    "expired": "Your session expired or is no longer valid; log in again.",
    "token": "That token is not the admin token or a viewer token.",
    "agent": "Agent tokens cannot open the dashboard; log in with the admin token or a viewer token.",
}


#: What ``/oversight?done=`` may say: the shapes the console's own redirects write, around an agent name.
_DONE = re.compile(r"^(?:(?:pause|resume|stop) |budget of |message \d{1,19} to )[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def login_error(code: str | None) -> str | None:
    """The fixed message of a login error code; None for no code or an unknown one (never the code itself)."""
    return LOGIN_ERRORS.get(code) if code else None


def oversight_done(done: str | None) -> str | None:
    """The console's "Done: ..." line if ``done`` has the shape its own redirects write; otherwise nothing."""
    return done if done and _DONE.match(done) else None


class LoginRequired(Exception):
    """No valid credentials: pages redirect to the login form, JSON endpoints answer 401."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    """Valid credentials that may not do this (an agent token; a viewer posting a form)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Visitor:
    """The person behind a request; ``nonce`` is None when they came with a bearer header (no CSRF then)."""

    role: Role
    nonce: str | None

    @property
    def is_admin(self) -> bool:
        """Whether the visitor may act (pause, message, budget)."""
        return self.role == "admin"


def viewer_token(state_dir: Path, *, rotate: bool = False) -> str:
    """The state dir's read-only dashboard token, created on first use (``rotate`` replaces it)."""
    path = state_dir / VIEWER_TOKEN_FILE
    if path.is_file() and not rotate:
        return path.read_text().strip()
    token = new_token()
    _write_private(path, token + "\n")
    return token


class Sessions:
    """Signs and checks session cookies and CSRF tokens of one app."""

    def __init__(self, state_dir: Path, auth: Authenticator) -> None:
        secret = (state_dir / "secret.key").read_bytes().strip()
        self._key = hmac.new(secret, b"aarlab dashboard session v1", hashlib.sha256).digest()
        self.state_dir, self.auth = state_dir, auth

    def _sign(self, data: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, data, hashlib.sha256).digest()).decode().rstrip("=")

    def issue(self, role: Role, token_hash: str, now: float | None = None) -> str:
        """A cookie value for a fresh session."""
        payload = json.dumps({"r": role, "t": token_hash, "e": int((now or time.time()) + SESSION_TTL_S),
                              "n": secrets.token_urlsafe(16)}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body.encode())}"

    def _parse(self, cookie: str) -> dict | None:
        body, _, signature = cookie.partition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("e"), int) or data["e"] < time.time():
            return None
        return data

    def csrf_token(self, nonce: str) -> str:
        """The CSRF token of a session (bound to its nonce)."""
        return self._sign(b"csrf:" + nonce.encode())

    def check_csrf(self, visitor: Visitor, submitted: str | None) -> None:
        """Refuse a form whose CSRF token does not belong to the visitor's session."""
        if visitor.nonce is None:
            return  # bearer header: a browser never attaches it on its own, so it cannot be forged cross-site
        if not submitted or not hmac.compare_digest(submitted, self.csrf_token(visitor.nonce)):
            raise Forbidden("the form's CSRF token is missing or stale; reload the page and try again")

    def _viewer_hash(self) -> str | None:
        path = self.state_dir / VIEWER_TOKEN_FILE
        try:
            return token_sha256(path.read_text().strip())
        except OSError:
            return None

    async def role_of(self, token_hash: str) -> Role:
        """The dashboard role of a token hash; agents get :class:`Forbidden`, unknown tokens :class:`LoginRequired`."""
        principal = self.auth.cached(token_hash) or await run_in_threadpool(self.auth.lookup, token_hash)
        if principal is not None and principal.is_admin:
            return "admin"
        viewer = self._viewer_hash()
        if viewer is not None and hmac.compare_digest(viewer, token_hash):
            return "viewer"
        if principal is not None:
            raise Forbidden(f"agent tokens cannot open the dashboard (this one belongs to agent {principal.name!r});"
                            " log in with the admin token or a viewer token")
        raise LoginRequired("unknown token")

    async def visitor(self, request: Request) -> Visitor:
        """The visitor of a request, from its bearer header or its session cookie."""
        header = request.headers.get("authorization")
        if header:
            try:
                token_hash = self.auth.parse(header)
            except ApiError as err:
                raise LoginRequired(err.message) from None
            return Visitor(await self.role_of(token_hash), None)
        cookie = request.cookies.get(COOKIE)
        data = self._parse(cookie) if cookie else None
        if data is None:
            raise LoginRequired("no session" if cookie is None else "session expired or invalid")
        try:
            role = await self.role_of(str(data.get("t")))
        except Forbidden:
            raise LoginRequired("session no longer valid") from None
        if role != data.get("r"):
            raise LoginRequired("session no longer valid")
        return Visitor(role, str(data.get("n")))


def secure_cookie(request: Request) -> bool:
    """Whether to mark the cookie Secure (served over https; behind a proxy, run uvicorn with proxy headers)."""
    return request.url.scheme == "https"
