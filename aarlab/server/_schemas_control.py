"""What crosses HTTP for operator control: an agent's control state, operator messages, budget changes.

Agents poll ``GET /api/v1/agents/me/control`` (read-only); the admin changes state with the ``/api/v1/admin``
routes. Shared with :mod:`aarlab.client` (``ControlClient``) and the agent runtime.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from aarlab.server._params import Count

ControlStateName = Literal["running", "paused", "stopped"]
ControlAction = Literal["pause", "resume", "stop"]
MAX_MESSAGE_CHARS = 4000

#: The state each action leads to.
ACTION_STATE: dict[str, ControlStateName] = {"pause": "paused", "resume": "running", "stop": "stopped"}


class ControlMessage(BaseModel):
    """An operator message to one agent (delivered by the harness at the agent's next turn)."""

    id: int = Field(description="Increasing; poll with ?since=<last id seen> to get only newer ones")
    body: str
    created_at: str = Field(description="ISO 8601 UTC")


class ControlState(BaseModel):
    """What the operator wants of one agent now, and the messages it has not yet seen."""

    agent: str
    state: ControlStateName
    budget_usd: float | None = Field(description="Dollar budget set by the operator; null: the campaign's own")
    evaluation_budget: int | None = Field(description="Evaluations per dataset the server allows this agent")
    messages: list[ControlMessage] = Field(description="Messages with id > since, oldest first")


class ControlRequest(BaseModel):
    """``POST /api/v1/admin/agents/{name}/control``."""

    model_config = ConfigDict(extra="forbid")

    action: ControlAction


class MessageCreate(BaseModel):
    """``POST /api/v1/admin/agents/{name}/messages``."""

    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class BudgetChange(BaseModel):
    """``POST /api/v1/admin/agents/{name}/budget``: null leaves a budget as it is."""

    model_config = ConfigDict(extra="forbid")

    usd: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    evaluations: Count | None = None
