"""Campaign status, computed from the scoring service's stored submissions (never from agents' self-reports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from aarlab.campaign._setup import server_dir
from aarlab.campaign._state import CampaignError, load_campaign

if TYPE_CHECKING:
    from aarlab.server import Leaderboard


class FinalResult(BaseModel):
    """An agent's one selected submission on a dataset and its private score (rounded), once finalized."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    method: str
    submission_id: str
    public_pgr: float | None
    private_transfer_acc: float
    private_pgr: float | None


class AgentStatus(BaseModel):
    """One agent: its direction and supervisor state, and what the server stored for it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    direction: str
    state: str
    best_public_pgr: float | None
    cost_usd: float
    submissions: int
    final: list[FinalResult] = []


class CampaignStatus(BaseModel):
    """``aarlab campaign status --json``."""

    model_config = ConfigDict(extra="forbid")

    best_public_pgr: float | None
    finalized_at: str | None = None
    agents: list[AgentStatus]


def stored_scores(state: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Per agent name: ``submissions`` (count), ``best_public_pgr`` and, once finalized, ``final`` (the final
    table's rows with private scores), read from the server's database; and when the campaign was finalized."""
    from sqlalchemy import func, select

    from aarlab.server import StateError, open_state
    from aarlab.server._db import agents, submissions
    from aarlab.server._leaderboard import finalized_at, read_leaderboard

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
            board = read_leaderboard(conn) if finalized_at(conn) else None
    finally:
        opened.db.dispose()
    out: dict[str, dict[str, Any]] = {name: {"submissions": int(count), "best_public_pgr": best}
                                      for name, count, best in rows}
    return _with_final(out, board)


def _with_final(scores: dict[str, dict[str, Any]],
                board: Leaderboard | None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Add each agent's final rows (``final``, with private scores) once finalized; and when that was."""
    if board is None or board.finalized_at is None:
        return scores, None
    for row in board.rows:
        if row.private_transfer_acc is None:
            continue
        entry = scores.setdefault(row.agent, {"submissions": 0, "best_public_pgr": None})
        entry.setdefault("final", []).append(FinalResult(
            dataset=row.dataset, method=row.method, submission_id=row.submission_id, public_pgr=row.public_pgr,
            private_transfer_acc=row.private_transfer_acc, private_pgr=row.private_pgr))
    return scores, board.finalized_at


def served_scores(state: Path, server: str) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The same as :func:`stored_scores` for a campaign on an existing service, from its leaderboard (admin token)."""
    from aarlab.client import ScoringClient, ScoringError

    token_file = state / "admin.token"
    if not token_file.is_file():
        raise CampaignError(f"{token_file} is missing; it holds the admin token of {server}")
    try:
        with ScoringClient(server, token_file.read_text().strip()) as client:
            board = client.leaderboard()
    except ScoringError as err:
        raise CampaignError(f"cannot read the leaderboard of {server}: {err.message}") from None
    out: dict[str, dict[str, Any]] = {}
    for row in board.rows:
        entry = out.setdefault(row.agent, {"submissions": 0, "best_public_pgr": None})
        entry["submissions"] += row.evaluations
        best = entry["best_public_pgr"]
        if row.public_pgr is not None and (best is None or row.public_pgr > best):
            entry["best_public_pgr"] = row.public_pgr
    return _with_final(out, board)


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
    scores, final_at = stored_scores(state) if info.server is None else served_scores(state, info.server)
    rows = []
    for record in info.agents:
        stored = scores.get(record.name, {"submissions": 0, "best_public_pgr": None})
        rows.append(AgentStatus(name=record.name, direction=record.direction, state=record.state,
                                best_public_pgr=stored["best_public_pgr"], cost_usd=cost_of(state, record.name),
                                submissions=stored["submissions"], final=stored.get("final", [])))
    bests = [r.best_public_pgr for r in rows if r.best_public_pgr is not None]
    return CampaignStatus(best_public_pgr=max(bests) if bests else None,
                          finalized_at=final_at, agents=rows)
