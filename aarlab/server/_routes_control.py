"""Routes of operator control: agents poll ``/api/v1/agents/me/control``; the admin pauses, messages, re-budgets.

Every admin change commits with its audit record (``control.pause|resume|stop|message|budget``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from aarlab.server._auth import Principal, require_admin
from aarlab.server._control import budget_change, message_change, read_control, set_state_change
from aarlab.server._errors import ApiError
from aarlab.server._params import Count
from aarlab.server._schemas_control import BudgetChange, ControlMessage, ControlRequest, ControlState, MessageCreate
from aarlab.server._services import Services, get_principal, get_services

router = APIRouter(prefix="/api/v1", tags=["control"])
Caller = Annotated[Principal, Depends(get_principal)]
Svc = Annotated[Services, Depends(get_services)]
_ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "not the admin"},
                                                 404: {"description": "no such agent"}}


async def current_control(svc: Services, name: str, since: int = 0) -> ControlState:
    """Agent ``name``'s control state as stored now."""
    def query() -> ControlState:
        with svc.db.reader.connect() as conn:
            return read_control(conn, name, svc.settings.default_budget, since)

    return await run_in_threadpool(query)


@router.get("/agents/me/control", response_model=ControlState)
async def my_control(caller: Caller, svc: Svc,
                     since: Annotated[Count, Query(description="Last message id seen")] = 0) -> ControlState:
    """What the operator wants of the calling agent (running / paused / stopped) and its new messages."""
    if caller.is_admin:
        raise ApiError(403, "the admin has no control state; this route is for agents' own tokens")
    return await current_control(svc, caller.name, since)


@router.post("/admin/agents/{name}/control", response_model=ControlState, responses=_ADMIN_ONLY)
async def set_state(name: str, body: ControlRequest, caller: Caller, svc: Svc) -> ControlState:
    """Pause, resume or stop an agent (admin only; the harness acts on it at the agent's next turn)."""
    require_admin(caller)
    await svc.writer.apply(set_state_change(name, body.action, caller.name))
    return await current_control(svc, name)


@router.post("/admin/agents/{name}/messages", status_code=201, response_model=ControlMessage,
             responses=_ADMIN_ONLY)
async def send_message(name: str, body: MessageCreate, caller: Caller, svc: Svc) -> ControlMessage:
    """Leave a message for an agent, delivered at its next turn (admin only)."""
    require_admin(caller)
    return await svc.writer.apply(message_change(name, body.body, caller.name))


@router.post("/admin/agents/{name}/budget", response_model=ControlState, responses=_ADMIN_ONLY)
async def set_budget(name: str, body: BudgetChange, caller: Caller, svc: Svc) -> ControlState:
    """Set an agent's dollar budget and/or evaluations per dataset; null leaves one as it is (admin only)."""
    require_admin(caller)
    await svc.writer.apply(budget_change(name, body.usd, body.evaluations, caller.name))
    await run_in_threadpool(forget_agent, svc, name)
    return await current_control(svc, name)


def forget_agent(svc: Services, name: str) -> None:
    """Make this process re-read agent ``name`` (its budget changed) at its next request."""
    from sqlalchemy import select

    from aarlab.server._db import agents

    with svc.db.reader.connect() as conn:
        agent_id = conn.execute(select(agents.c.id).where(agents.c.name == name)).scalar()
    if agent_id is not None:
        svc.auth.forget(agent_id)
