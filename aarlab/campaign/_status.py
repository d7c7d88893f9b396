"""Campaign status, computed from the scoring service's stored submissions (never from agents' self-reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from aarlab.campaign._setup import server_dir
from aarlab.campaign._state import CampaignError, load_campaign


class AgentStatus(BaseModel):
    """One agent: its direction and supervisor state, and what the server stored for it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    direction: str
    state: str
    best_public_pgr: float | None
    cost_usd: float
    submissions: int


class CampaignStatus(BaseModel):
    """``aarlab campaign status --json``."""

    model_config = ConfigDict(extra="forbid")

    best_public_pgr: float | None
    agents: list[AgentStatus]


def stored_scores(state: Path) -> dict[str, dict[str, Any]]:
    """Per agent name: ``submissions`` (count) and ``best_public_pgr``, read from the server's database."""
    from sqlalchemy import func, select

    from aarlab.server import StateError, open_state
    from aarlab.server._db import agents, submissions

    try:
        opened = open_state(server_dir(state))
    except StateError as err:
        raise CampaignError(str(err)) from None
    query = (select(agents.c.name, func.count(submissions.c.id), func.max(submissions.c.public_pgr))
             .select_from(agents.join(submissions, submissions.c.agent_id == agents.c.id))
             .group_by(agents.c.name))
    try:
        with opened.db.reader.connect() as conn:
            rows = conn.execute(query).all()
    finally:
        opened.db.dispose()
    return {name: {"submissions": int(count), "best_public_pgr": best} for name, count, best in rows}


def campaign_status(state: Path) -> CampaignStatus:
    """Every agent of the campaign with its stored results; ``cost_usd`` is 0 for offline search agents."""
    info = load_campaign(state)
    scores = stored_scores(state)
    rows = []
    for record in info.agents:
        stored = scores.get(record.name, {"submissions": 0, "best_public_pgr": None})
        rows.append(AgentStatus(name=record.name, direction=record.direction, state=record.state,
                                best_public_pgr=stored["best_public_pgr"], cost_usd=0.0,
                                submissions=stored["submissions"]))
    bests = [r.best_public_pgr for r in rows if r.best_public_pgr is not None]
    return CampaignStatus(best_public_pgr=max(bests) if bests else None, agents=rows)
