"""Campaign status, computed from the scoring service's stored submissions (never from agents' self-reports)."""

from __future__ import annotations

import json
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


def served_scores(state: Path, server: str) -> dict[str, dict[str, Any]]:
    """The same as :func:`stored_scores` for a campaign on an existing service, from its leaderboard (admin token)."""
    from aarlab.client import ScoringClient, ScoringError

    token_file = state / "admin.token"
    if not token_file.is_file():
        raise CampaignError(f"{token_file} is missing; it holds the admin token of {server}")
    try:
        with ScoringClient(server, token_file.read_text().strip()) as client:
            rows = client.leaderboard().rows
    except ScoringError as err:
        raise CampaignError(f"cannot read the leaderboard of {server}: {err.message}") from None
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row.agent, {"submissions": 0, "best_public_pgr": None})
        entry["submissions"] += row.evaluations
        best = entry["best_public_pgr"]
        if row.public_pgr is not None and (best is None or row.public_pgr > best):
            entry["best_public_pgr"] = row.public_pgr
    return out


def cost_of(state: Path, name: str) -> float:
    """The agent's LLM spend in USD from ``agents/NAME/usage.json`` (0 when absent, unreadable, or refused: a link,
    a special file or over 1 MiB, read through :mod:`aarlab._agentfiles`)."""
    from aarlab._agentfiles import read_agent_file

    try:
        return float(json.loads(read_agent_file(state, f"agents/{name}/usage.json", 1 << 20)).get("cost_usd", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


def campaign_status(state: Path) -> CampaignStatus:
    """Every agent of the campaign with its stored results and its LLM spend (0 for offline search agents)."""
    info = load_campaign(state)
    scores = stored_scores(state) if info.server is None else served_scores(state, info.server)
    rows = []
    for record in info.agents:
        stored = scores.get(record.name, {"submissions": 0, "best_public_pgr": None})
        rows.append(AgentStatus(name=record.name, direction=record.direction, state=record.state,
                                best_public_pgr=stored["best_public_pgr"], cost_usd=cost_of(state, record.name),
                                submissions=stored["submissions"]))
    bests = [r.best_public_pgr for r in rows if r.best_public_pgr is not None]
    return CampaignStatus(best_public_pgr=max(bests) if bests else None, agents=rows)
