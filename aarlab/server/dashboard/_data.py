"""What the dashboard and the campaign report show, gathered from the database and the campaign dir.

Scores come only from stored submissions; costs and transcripts from the harness's files (see :mod:`._files`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from aarlab.server._control import control_states
from aarlab.server._db import agents, datasets, posts, snapshot_pushes, submissions, usage
from aarlab.server._integrity import with_flags
from aarlab.server._leaderboard import read_leaderboard
from aarlab.server._schemas import Leaderboard
from aarlab.server.dashboard._files import CampaignFiles, read_suite_baselines
from aarlab.server.dashboard._flags import Flag, stored_flags


@dataclass
class Evaluation:
    """One stored submission as the dashboard shows it."""

    id: str
    agent: str
    dataset: str
    method: str
    public_transfer_acc: float
    public_pgr: float | None
    created_at: str
    receipt: str
    time: float  # unix seconds of created_at
    flags: list[Flag] = field(default_factory=list)
    snapshot_id: str | None = None  # a snapshot a forum post cites with this submission


#: Harness states of an agent that has not ended ("" = nothing reported yet).
_LIVE_HARNESS_STATES = frozenset({"", "running", "paused", "pending", "starting"})


@dataclass
class AgentView:
    """One agent: what the operator set, what the harness reports, what the server stored."""

    name: str
    direction: str = ""
    direction_text: str = ""
    model: str = ""
    control_state: str = "running"
    harness_state: str = ""
    budget_usd: float | None = None
    cost_usd: float = 0.0
    wall_s: float | None = None
    evaluations_used: int = 0
    evaluation_budget: int = 0  # per dataset
    submissions: int = 0
    best_public_pgr: float | None = None
    flags: int = 0

    @property
    def state(self) -> str:
        """The state to show: an operator's pause/stop wins over what the harness last said."""
        if self.control_state != "running":
            return self.control_state
        return self.harness_state or "running"

    @property
    def finished(self) -> bool:
        """Whether the harness reports an end state (done, stopped, crashed, budget_exhausted, error, ...)."""
        return self.harness_state not in _LIVE_HARNESS_STATES

    @property
    def operator_state(self) -> str:
        """The operator's control as it stands: a "running" control of a finished agent shows the end state
        instead (nothing runs any more), e.g. ``finished (done)``."""
        if self.control_state == "running" and self.finished:
            return f"finished ({self.harness_state})"
        return self.control_state

    @property
    def cost_per_hour(self) -> float | None:
        """Dollars per agent-hour (None before the agent has run)."""
        if not self.wall_s or self.wall_s <= 0:
            return None
        return self.cost_usd / (self.wall_s / 3600)


@dataclass
class Baseline:
    """A horizontal line of the PGR chart."""

    label: str
    pgr: float


@dataclass
class DatasetView:
    """A scored dataset, its fixed baselines and the reference lines of its chart."""

    name: str
    kind: str
    n_test: int
    weak_acc: float
    strong_acc: float
    baselines: list[Baseline]


@dataclass
class DashboardData:
    """Everything one page or the report needs, read at one moment."""

    suite: str
    generated_at: float
    finalized_at: str | None
    campaign: dict[str, Any]
    agents: list[AgentView]
    datasets: list[DatasetView]
    evaluations: list[Evaluation]
    leaderboard: Leaderboard

    @property
    def best_public_pgr(self) -> float | None:
        """The best stored public PGR of any agent."""
        values = [e.public_pgr for e in self.evaluations if e.public_pgr is not None]
        return max(values) if values else None

    @property
    def total_cost_usd(self) -> float:
        """Dollars spent by all agents."""
        return sum(a.cost_usd for a in self.agents)

    def agent(self, name: str) -> AgentView | None:
        """One agent by name."""
        return next((a for a in self.agents if a.name == name), None)


class FlagCache:
    """Integrity flags per submission id (stored with each submission, never changed: read once per process)."""

    def __init__(self) -> None:
        self._flags: dict[str, list[Flag]] = {}
        self._lock = threading.Lock()

    def flags(self, conn: Connection, ids: list[str]) -> dict[str, list[Flag]]:
        """Integrity flags of the given submissions."""
        with self._lock:
            missing = [i for i in ids if i not in self._flags]
        for start in range(0, len(missing), 200):
            chunk = missing[start:start + 200]
            found = stored_flags(conn, chunk)
            with self._lock:
                self._flags.update(found)
        with self._lock:
            return {i: list(self._flags.get(i, [])) for i in ids}


def unix_time(iso: str) -> float:
    """Unix seconds of an ISO 8601 time (0 when unparsable)."""
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0


def campaign_summary(files: CampaignFiles | None, now: float) -> dict[str, Any]:
    """Status, times and settings of the campaign (empty without a campaign dir)."""
    if files is None:
        return {}
    info = files.info
    started, deadline = info.get("started_at"), info.get("deadline")
    if info.get("ended_at"):
        status = "ended"
    elif info.get("stopped_at"):
        status = "stopped"
    elif isinstance(deadline, int | float) and now > deadline:
        status = "past deadline"
    else:
        status = "running" if info else "unknown (no campaign.json)"
    return {"dir": str(files.path), "status": status, "started_at": started, "deadline": deadline,
            "time_left_s": max(0.0, deadline - now) if isinstance(deadline, int | float) else None,
            "agent_kind": info.get("agent_kind"), "minutes": info.get("minutes"), "home": info.get("home")}


def _literature(entry: dict[str, Any]) -> list[tuple[str, float]]:
    """(method, transfer accuracy) pairs a suite's baselines entry records beyond vanilla, in any of its layouts."""
    found: list[tuple[str, float]] = []
    for key in ("methods", "literature", "literature_transfer_acc"):
        group = entry.get(key)
        if not isinstance(group, dict):
            continue
        for name, value in group.items():
            acc = value.get("transfer_acc") if isinstance(value, dict) else value
            if isinstance(acc, int | float) and not isinstance(acc, bool):
                found.append((str(name), float(acc)))
    return found


def baselines_of(weak: float, strong: float, entry: dict[str, Any]) -> list[Baseline]:
    """Reference lines in PGR units: weak (0), vanilla and the best literature method when known, ceiling (1)."""
    lines = [Baseline("weak", 0.0)]
    gap = strong - weak
    if gap > 0:
        vanilla = entry.get("vanilla_transfer_acc")
        if isinstance(vanilla, int | float) and not isinstance(vanilla, bool):
            lines.append(Baseline("vanilla", round((vanilla - weak) / gap, 4)))
        literature = _literature(entry)
        if literature:
            name, acc = max(literature, key=lambda m: m[1])
            lines.append(Baseline(f"best literature ({name})", round((acc - weak) / gap, 4)))
    lines.append(Baseline("ceiling", 1.0))
    return lines


def _evaluations(conn: Connection, flag_cache: FlagCache) -> list[Evaluation]:
    rows = conn.execute(select(submissions.c.id, agents.c.name, submissions.c.dataset, submissions.c.method,
                               submissions.c.public_transfer_acc, submissions.c.public_pgr,
                               submissions.c.created_at, submissions.c.receipt)
                        .join(agents, agents.c.id == submissions.c.agent_id)
                        .order_by(submissions.c.audit_seq)).all()
    cited = dict(conn.execute(select(posts.c.submission_id, func.max(posts.c.snapshot_id))
                              .where(posts.c.submission_id.is_not(None)).group_by(posts.c.submission_id)).all())
    flags = flag_cache.flags(conn, [r.id for r in rows])
    out = []
    for r in rows:
        found = flags.get(r.id, [])
        out.append(Evaluation(r.id, r.name, r.dataset, r.method, r.public_transfer_acc, r.public_pgr, r.created_at,
                              r.receipt, unix_time(r.created_at), found, cited.get(r.id)))
    return out


def _agents(conn: Connection, files: CampaignFiles | None, evaluations: list[Evaluation],
            default_budget: int) -> list[AgentView]:
    controls = control_states(conn)
    used = dict(conn.execute(select(usage.c.agent_id, func.sum(usage.c.used)).group_by(usage.c.agent_id)).all())
    views: dict[str, AgentView] = {}
    for r in conn.execute(select(agents.c.id, agents.c.name, agents.c.budget).where(agents.c.is_admin.is_(False))
                          .order_by(agents.c.name)):
        state, usd = controls.get(r.id, ("running", None))
        views[r.name] = AgentView(r.name, control_state=state, budget_usd=usd, evaluations_used=int(used.get(r.id, 0)),
                                  evaluation_budget=default_budget if r.budget is None else r.budget)
    for name, f in (files.agents.items() if files else ()):
        view = views.setdefault(name, AgentView(name, evaluation_budget=default_budget))
        view.direction, view.direction_text, view.harness_state = f.direction, f.direction_text, f.harness_state
        view.cost_usd, view.wall_s = f.cost_usd, f.wall_s
        model = f.usage.get("model") or f.assignment.get("model") or f.assignment.get("kind")
        view.model = model if isinstance(model, str) else ""
        if view.budget_usd is None:
            view.budget_usd = f.budget_usd
    for e in evaluations:
        seen = views.get(e.agent)
        if seen is None:
            continue
        view = seen
        view.submissions += 1
        view.flags += len(e.flags)
        if e.public_pgr is not None and (view.best_public_pgr is None or e.public_pgr > view.best_public_pgr):
            view.best_public_pgr = e.public_pgr
    return sorted(views.values(), key=lambda v: v.name)


def collect(conn: Connection, *, suite: str, files: CampaignFiles | None, default_budget: int,
            flag_cache: FlagCache, now: float | None = None) -> DashboardData:
    """Read the dashboard's data from one connection (a consistent moment on PostgreSQL; near enough on SQLite)."""
    now = time.time() if now is None else now
    evaluations = _evaluations(conn, flag_cache)
    home = files.info.get("home") if files else None
    suite_baselines = read_suite_baselines(home if isinstance(home, str) else None, suite)
    dataset_views = [DatasetView(d.name, d.kind, d.n_test, d.weak_acc, d.strong_acc,
                                 baselines_of(d.weak_acc, d.strong_acc, suite_baselines.get(d.name, {})))
                     for d in conn.execute(select(datasets).order_by(datasets.c.name))]
    board = with_flags(conn, read_leaderboard(conn))
    return DashboardData(suite=suite, generated_at=now, finalized_at=board.finalized_at,
                         campaign=campaign_summary(files, now),
                         agents=_agents(conn, files, evaluations, default_budget), datasets=dataset_views,
                         evaluations=evaluations, leaderboard=board)


def agent_snapshots(conn: Connection, name: str) -> list[dict[str, Any]]:
    """Snapshots an agent pushed, newest first."""
    rows = conn.execute(select(snapshot_pushes.c.snapshot_id, snapshot_pushes.c.parent, snapshot_pushes.c.created_at)
                        .join(agents, agents.c.id == snapshot_pushes.c.agent_id).where(agents.c.name == name)
                        .order_by(snapshot_pushes.c.audit_seq.desc())).all()
    return [{"id": r.snapshot_id, "parent": r.parent, "created_at": r.created_at} for r in rows]
