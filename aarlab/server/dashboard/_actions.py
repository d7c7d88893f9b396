"""The dashboard's forms: log in and out, and the oversight actions (admin only, CSRF-checked, audited)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from aarlab.server._control import budget_change, message_change, set_state_change
from aarlab.server._errors import ApiError
from aarlab.server._routes_control import forget_agent
from aarlab.server._schemas_control import BudgetChange, ControlRequest, MessageCreate
from aarlab.server._services import Services, get_services
from aarlab.server._state import token_sha256
from aarlab.server.dashboard._pages import get_visitor
from aarlab.server.dashboard._session import COOKIE, SESSION_TTL_S, Forbidden, LoginRequired, Visitor, secure_cookie
from aarlab.server.dashboard._site import dashboard_of, safe_next

router = APIRouter(include_in_schema=False)
Svc = Annotated[Services, Depends(get_services)]
Seen = Annotated[Visitor, Depends(get_visitor)]
MAX_FORM_BYTES = 64 * 1024


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (first value of each field)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(415, f"expected a form (application/x-www-form-urlencoded), found {kind or 'no body type'!r}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, f"form of {len(body)} bytes exceeds {MAX_FORM_BYTES}")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(f"cross-site form from {origin!r} refused")


@router.post("/login")
async def login(request: Request) -> Response:
    """Check a token and start a session (cookie: HttpOnly, SameSite=Strict, signed; no token inside)."""
    _same_origin(request)
    form = await form_of(request)
    board = dashboard_of(request)
    target = safe_next(form.get("next"))
    token = form.get("token", "").strip()
    try:
        if not token:
            raise LoginRequired("enter a token")
        token_hash = token_sha256(token)
        role = await board.sessions.role_of(token_hash)
    except (LoginRequired, Forbidden) as err:
        reason = err.reason if isinstance(err, LoginRequired) else err.message
        status = 403 if isinstance(err, Forbidden) else 401
        return board.page(request, "login.html", None, status=status, title="Log in", next=target, error=reason)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, board.sessions.issue(role, token_hash), max_age=SESSION_TTL_S, httponly=True,
                        samesite="strict", secure=secure_cookie(request), path="/")
    return response


@router.post("/logout")
async def logout(request: Request, visitor: Seen) -> Response:
    """End the session (the cookie is dropped)."""
    form = await form_of(request)
    dashboard_of(request).sessions.check_csrf(visitor, form.get("csrf"))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def _admin_form(request: Request, visitor: Visitor) -> dict[str, str]:
    if not visitor.is_admin:
        raise Forbidden("only the campaign admin may change agents; viewer tokens can only look")
    _same_origin(request)
    form = await form_of(request)
    dashboard_of(request).sessions.check_csrf(visitor, form.get("csrf"))
    return form


def _back(done: str) -> RedirectResponse:
    return RedirectResponse(f"/oversight?done={quote(done)}", status_code=303)


def _invalid(err: ValidationError) -> ApiError:
    e = err.errors()[0]
    return ApiError(422, f"invalid {'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}")


def _refused(request: Request, visitor: Visitor, err: ApiError) -> Response:
    return dashboard_of(request).page(request, "error.html", visitor, status=err.status, title="Not done",
                                      message=err.message, back="/oversight")


@router.post("/oversight/agents/{name}/control")
async def control(request: Request, name: str, visitor: Seen, svc: Svc) -> Response:
    """Pause, resume or stop an agent."""
    form = await _admin_form(request, visitor)
    try:
        try:
            action = ControlRequest(action=form.get("action", "")).action  # type: ignore[arg-type]
        except ValidationError as err:
            raise _invalid(err) from None
        await svc.writer.apply(set_state_change(name, action, "admin"))
    except ApiError as err:
        return _refused(request, visitor, err)
    return _back(f"{action} {name}")


@router.post("/oversight/agents/{name}/messages")
async def message(request: Request, name: str, visitor: Seen, svc: Svc) -> Response:
    """Leave a message for an agent (delivered at its next turn)."""
    form = await _admin_form(request, visitor)
    try:
        try:
            body = MessageCreate(body=form.get("body", "").strip()).body
        except ValidationError as err:
            raise _invalid(err) from None
        sent = await svc.writer.apply(message_change(name, body, "admin"))
    except ApiError as err:
        return _refused(request, visitor, err)
    return _back(f"message {sent.id} to {name}")


@router.post("/oversight/agents/{name}/budget")
async def budget(request: Request, name: str, visitor: Seen, svc: Svc) -> Response:
    """Set an agent's dollar budget and/or evaluations per dataset (blank fields are left as they are)."""
    form = await _admin_form(request, visitor)
    try:
        try:
            change = BudgetChange.model_validate({k: form[k] for k in ("usd", "evaluations")
                                                  if form.get(k, "").strip()})
        except ValidationError as err:
            raise _invalid(err) from None
        await svc.writer.apply(budget_change(name, change.usd, change.evaluations, "admin"))
    except ApiError as err:
        return _refused(request, visitor, err)
    await run_in_threadpool(forget_agent, svc, name)
    return _back(f"budget of {name}")
