"""Campaign status, computed from the scoring service's stored submissions (never from agents' self-reports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from aarlab.campaign._setup import server_dir
from aarlab.campaign._state import CampaignError, CampaignInfo, load_campaign, now

if TYPE_CHECKING:
    from sqlalchemy import Connection

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
    experiment: str | None = Field(None, description="its latest experiment (w2s_run) from its transcript, "
                                   "e.g. 'vanilla on math'")
    experiment_running: bool = Field(False, description="whether that experiment is running now")
    experiments: int = Field(0, description="experiments run so far (usage.json)")
    promoted_pgr: float | None = Field(None, description="best private PGR of its promoted re-runs")
    flags: int = Field(0, description="integrity flags on its stored submissions")
    evaluations_left: int | None = Field(None, description="scoring evaluations left on its own dataset")
    experiments_left: int | None = Field(None, description="experiments left under --max-experiments")
    usd_left: float | None = Field(None, description="LLM spend left under --usd")
    node: str | None = Field(None, description="cluster campaigns: the node it runs (or last ran) on")
    moves: int = Field(0, description="cluster campaigns: times it was started on another node after losing one")


class CampaignStatus(BaseModel):
    """``aarlab campaign status --json``."""

    model_config = ConfigDict(extra="forbid")

    best_public_pgr: float | None
    finalized_at: str | None = None
    agents: list[AgentStatus]
    time_left_s: float | None = Field(None, description="seconds to the deadline while the campaign runs")
    dashboard_url: str | None = Field(None, description="where the campaign's dashboard is served, if it is")


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
            extras = _stored_extras(conn)
    finally:
        opened.db.dispose()
    out: dict[str, dict[str, Any]] = {name: {"submissions": int(count), "best_public_pgr": best}
                                      for name, count, best in rows}
    for name, extra in extras.items():
        out.setdefault(name, {"submissions": 0, "best_public_pgr": None}).update(extra)
    return _with_final(out, board)


def _stored_extras(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per agent name: ``flags`` (integrity flags on its submissions), ``promoted_pgr`` (best promoted private
    PGR), ``used`` (evaluations used per dataset) and ``budget`` (its evaluation budget, None: the default)."""
    from sqlalchemy import func, select

    from aarlab.server._db import agents, promotions, submission_flags, submissions, usage

    out: dict[str, dict[str, Any]] = {}
    for name, budget in conn.execute(select(agents.c.name, agents.c.budget).where(agents.c.is_admin.is_(False))):
        out[name] = {"flags": 0, "promoted_pgr": None, "used": {}, "budget": budget}
    flags = (select(agents.c.name, func.count(submission_flags.c.id))
             .select_from(submission_flags.join(submissions, submissions.c.id == submission_flags.c.submission_id)
                          .join(agents, agents.c.id == submissions.c.agent_id))
             .group_by(agents.c.name))
    for name, count in conn.execute(flags):
        out.setdefault(name, {})["flags"] = int(count)
    promoted = (select(promotions.c.agent, func.max(promotions.c.private_pgr))
                .where(promotions.c.status == "promoted").group_by(promotions.c.agent))
    for name, best in conn.execute(promoted):
        out.setdefault(name, {})["promoted_pgr"] = best
    for name, dataset, used in conn.execute(select(agents.c.name, usage.c.dataset, usage.c.used)
                                            .join(agents, agents.c.id == usage.c.agent_id)):
        out.setdefault(name, {}).setdefault("used", {})[dataset] = int(used)
    return out


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
    for row in board.rows:  # the best row per agent, method and dataset: flags and promotions of those rows only
        entry = out.setdefault(row.agent, {"submissions": 0, "best_public_pgr": None, "flags": 0,
                                           "promoted_pgr": None})
        entry["submissions"] += row.evaluations
        entry["flags"] += len(row.flags)
        entry["best_public_pgr"] = _max(entry["best_public_pgr"], row.public_pgr)
        entry["promoted_pgr"] = _max(entry["promoted_pgr"], row.promoted_private_pgr)
    return _with_final(out, board)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def cost_of(state: Path, name: str) -> float:
    """The agent's LLM spend in USD from ``agents/NAME/usage.json`` (0 when absent, unreadable, or refused: a link,
    a special file or over 1 MiB, read through :mod:`aarlab._agentfiles`)."""
    from aarlab._agentfiles import read_agent_file

    try:
        return float(json.loads(read_agent_file(state, f"agents/{name}/usage.json", 1 << 20)).get("cost_usd", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0.0


def latest_experiment(state: Path, name: str) -> tuple[str | None, bool]:
    """The agent's latest ``w2s_run`` from the tail of its transcript, as "METHOD on DATASET", and whether it is
    still running (no result yet). Agent-written text: control characters removed, at most 60 characters."""
    from aarlab.server.dashboard._files import read_transcript

    events, _ = read_transcript(state, name)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("type") != "tool_call" or event.get("name") != "w2s_run":
            continue
        given = event.get("input")
        if not isinstance(given, dict):
            given = {}
        text = _printable(f"{given.get('method', '?')} on {given.get('dataset', '?')}")
        done = any(e.get("type") == "tool_result" and e.get("id") == event.get("id") for e in events[index + 1:])
        return text, not done
    return None, False


def _printable(text: str, limit: int = 60) -> str:
    """``text`` without control characters (a terminal would obey them), cut to ``limit`` characters."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[:limit - 1] + "…"


def _budget_left(state: Path, name: str, stored: dict[str, Any], info: CampaignInfo) -> dict[str, Any]:
    """``evaluations_left`` on the agent's own dataset (the server's count), ``experiments_left`` and ``usd_left``
    (its harness's ``usage.json``); None where there is no such budget or it is not known."""
    from aarlab.server.dashboard._files import read_agent_json

    usage = read_agent_json(state, name, "usage.json") or {}
    assignment = read_agent_json(state, name, "agent.json") or {}
    budget = usage.get("budget")
    if not isinstance(budget, dict):
        budget = {}
    out: dict[str, Any] = {"evaluations_left": None, "experiments_left": None, "usd_left": None,
                           "experiments": _count(usage.get("experiments")) or 0}
    datasets = assignment.get("datasets")
    if "used" in stored and isinstance(datasets, list) and datasets and isinstance(datasets[0], str):
        allowed = stored.get("budget") if stored.get("budget") is not None else info.budget
        out["evaluations_left"] = max(0, allowed - stored["used"].get(datasets[0], 0))
    if (limit := _count(budget.get("experiments"))) is not None:
        out["experiments_left"] = max(0, limit - out["experiments"])
    usd = budget.get("usd")
    if isinstance(usd, int | float) and not isinstance(usd, bool):
        cost = usage.get("cost_usd")
        spent = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0
        out["usd_left"] = max(0.0, float(usd) - spent)
    return out


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def dashboard_url(info: CampaignInfo) -> str | None:
    """Where the campaign's dashboard is served: its own server's ``--dashboard-port`` while the campaign runs, or
    the ``--server`` it uses when that is a web address."""
    if info.server is not None:
        return info.server.rstrip("/") + "/" if info.server.startswith(("http://", "https://")) else None
    if info.dashboard_port is None or info.ended_at is not None or info.stopped_at is not None:
        return None
    return f"http://127.0.0.1:{info.dashboard_port}/"


def campaign_status(state: Path) -> CampaignStatus:
    """Every agent of the campaign with its stored results and its LLM spend (0 for offline search agents), its
    latest experiment and what is left of its budgets."""
    info = load_campaign(state)
    scores, final_at = stored_scores(state) if info.server is None else served_scores(state, info.server)
    rows = []
    for record in info.agents:
        stored = scores.get(record.name, {"submissions": 0, "best_public_pgr": None})
        experiment, running = latest_experiment(state, record.name)
        rows.append(AgentStatus(name=record.name, direction=record.direction, state=record.state,
                                best_public_pgr=stored["best_public_pgr"], cost_usd=cost_of(state, record.name),
                                submissions=stored["submissions"], final=stored.get("final", []),
                                experiment=experiment, experiment_running=running and record.state == "running",
                                promoted_pgr=stored.get("promoted_pgr"), flags=stored.get("flags", 0),
                                node=record.node, moves=record.moves,
                                **_budget_left(state, record.name, stored, info)))
    bests = [r.best_public_pgr for r in rows if r.best_public_pgr is not None]
    running = info.ended_at is None and info.stopped_at is None
    return CampaignStatus(best_public_pgr=max(bests) if bests else None,
                          finalized_at=final_at, agents=rows,
                          time_left_s=max(0.0, info.deadline - now()) if running else None,
                          dashboard_url=dashboard_url(info))
