"""Routes ``/api/v1/whoami`` and ``/api/v1/admin/agents``: identities and (admin only) new agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from aarlab.server._auth import Principal, require_admin
from aarlab.server._schemas import AgentCreate, AgentCreated, Identity
from aarlab.server._services import Services, get_principal, get_services
from aarlab.server._state import create_agent_change, new_token

router = APIRouter(prefix="/api/v1", tags=["agents"])
Caller = Annotated[Principal, Depends(get_principal)]
Svc = Annotated[Services, Depends(get_services)]


@router.get("/whoami", response_model=Identity)
def whoami(caller: Caller) -> Identity:
    """Who the bearer token belongs to."""
    return Identity(name=caller.name, is_admin=caller.is_admin)


@router.post("/admin/agents", status_code=201, response_model=AgentCreated,
             responses={403: {"description": "not the admin"}, 409: {"description": "name taken"}})
async def create_agent(body: AgentCreate, caller: Caller, svc: Svc) -> AgentCreated:
    """Create an agent and return its token (admin only; the token is shown once)."""
    require_admin(caller)
    token = new_token()
    await svc.writer.apply(create_agent_change(body.name, token, body.budget, actor=caller.name))
    return AgentCreated(name=body.name, token=token, budget=body.budget)
