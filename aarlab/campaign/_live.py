"""What ``aarlab campaign run`` shows: a live view of its agents (on a terminal), one log line per change (not a
terminal, or ``--quiet``), and ONE summary table at the end.

Every function here is a pure function of a :class:`CampaignStatus` (scores from the scoring service, the rest from
``campaign.json`` and the agents' own files); the CLI decides where and how often to show it. Text that agents wrote
(experiment names) is already stripped of control characters by :mod:`aarlab.campaign._status`, and is put in
:class:`~rich.text.Text` objects so that it is never read as rich markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.constrain import Constrain
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from aarlab.campaign._status import AgentStatus, CampaignStatus

#: Title of the summary table (shown once, at the end of a campaign, and by ``campaign status``).
SUMMARY_TITLE = "campaign summary"
#: Columns the summary table fits in, whatever the terminal's width.
SUMMARY_WIDTH = 100
#: The last line of the live view.
HINT = "Ctrl-C stops the agents (continue with `aarlab campaign resume`)"

_STATE_STYLE = {"running": "green", "done": "blue", "crashed": "bold red", "stopped": "yellow", "pending": "dim"}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _pgr(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def budget_left(agent: AgentStatus) -> str:
    """What is left of the agent's budgets in a few words: scoring evaluations on its own dataset, experiments
    (``--max-experiments``) and LLM dollars (``--usd``); ``-`` when none is known."""
    parts = []
    if agent.evaluations_left is not None:
        parts.append(f"{agent.evaluations_left} evals")
    if agent.experiments_left is not None:
        parts.append(f"{agent.experiments_left} exp")
    if agent.usd_left is not None:
        parts.append(f"${agent.usd_left:.2f}")
    return ", ".join(parts) or "-"


def _state(agent: AgentStatus) -> Text:
    return Text(agent.state, style=_STATE_STYLE.get(agent.state, ""))


def _experiment(agent: AgentStatus) -> Text:
    if agent.experiment is None:
        return Text("-", style="dim")
    if agent.experiment_running:
        return Text("▶ ") + Text(agent.experiment)
    return Text(agent.experiment, style="dim")


def headline(status: CampaignStatus) -> str:
    """The campaign in one line: time left (while it runs), best public PGR, submissions, flags."""
    parts = []
    if status.time_left_s is not None:
        parts.append(f"{_clock(status.time_left_s)} left" if status.time_left_s >= 1 else "deadline passed")
    parts.append(f"best public PGR {_pgr(status.best_public_pgr)}")
    parts.append(_n(sum(a.submissions for a in status.agents), "submission"))
    flags = sum(a.flags for a in status.agents)
    if flags:
        parts.append(_n(flags, "flag"))
    return " · ".join(parts)


def live_view(status: CampaignStatus, name: str = "campaign") -> RenderableType:
    """The live view of a running campaign: a headline, one row per agent (state, current experiment, submissions,
    best public and promoted PGR, flags, budget left) and the dashboard's address (LLM spend: in the summary)."""
    table = Table(box=None, pad_edge=False, header_style="bold underline")
    table.add_column("agent", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("state", no_wrap=True)
    table.add_column("experiment", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("subs", justify="right", no_wrap=True)
    table.add_column("public", justify="right", no_wrap=True)
    table.add_column("promoted", justify="right", no_wrap=True)
    table.add_column("flags", justify="right", no_wrap=True)
    table.add_column("budget left", no_wrap=True, overflow="ellipsis", max_width=22)
    cluster = any(a.node for a in status.agents)
    if cluster:
        table.add_column("node (moves)", no_wrap=True, overflow="ellipsis", max_width=22)
    for a in status.agents:
        flags = Text(str(a.flags), style="bold yellow" if a.flags else "")
        row: list[RenderableType] = [Text(a.name), _state(a), _experiment(a), str(a.submissions),
                                     _pgr(a.best_public_pgr), _pgr(a.promoted_pgr), flags, budget_left(a)]
        if cluster:
            row.append(Text(_node(a)))
        table.add_row(*row)
    head = Text.assemble((Text(name, style="bold")), "  ", headline(status))
    lines: list[RenderableType] = [head, table]
    if status.dashboard_url:
        lines.append(Text.assemble("dashboard: ", (status.dashboard_url, "underline")))
    lines.append(Text(HINT, style="dim"))
    return Group(*lines)


def _final(agent: AgentStatus) -> str:
    return ", ".join(f"{f.dataset} {_pgr(f.private_pgr)}" for f in agent.final) or "-"


def _node(agent: AgentStatus, short: bool = False) -> str:
    """The node an agent runs (or ran) on, with its moves when it moved; ``short``: the node id alone (IPs repeat
    when several nodes share a machine; ``campaign status --json`` has both)."""
    node = agent.node or "-"
    if short:
        node = node.rpartition("/")[2]
    return node + (f" ({agent.moves})" if agent.moves else "")


def summary_table(status: CampaignStatus) -> RenderableType:
    """ONE table for the end of a campaign (and ``campaign status``), at most :data:`SUMMARY_WIDTH` columns wide
    on any terminal (long cells end in an ellipsis): per agent its direction, state, submissions, best public and
    promoted PGR, flags, LLM spend (when any), on a cluster its node and moves, and once the campaign is finalized
    its selected submissions' private PGR."""
    final = status.finalized_at is not None
    table = Table(title=f"{SUMMARY_TITLE} · {headline(status)}", title_justify="left", box=box.ROUNDED,
                  caption="PGR: public = best stored public score; promoted = private score of the clean re-run"
                  + ("; final = private score of the selected submission" if final else ""),
                  caption_justify="left")
    table.add_column("agent", no_wrap=True, overflow="ellipsis", max_width=14)
    cluster = any(a.node for a in status.agents)
    width = 8 if final and cluster else 14 if final or cluster else 30
    table.add_column("direction", no_wrap=True, overflow="ellipsis", max_width=width)
    table.add_column("state", no_wrap=True)
    table.add_column("subs", justify="right", no_wrap=True)
    table.add_column("public", justify="right", no_wrap=True)
    table.add_column("promoted", justify="right", no_wrap=True)
    table.add_column("flags", justify="right", no_wrap=True)
    spend = any(a.cost_usd for a in status.agents)  # search agents spend nothing: no column of zeros
    if spend:
        table.add_column("cost $", justify="right", no_wrap=True)
    if cluster:  # where each agent ended and how often it moved
        table.add_column("node (moves)", no_wrap=True, overflow="ellipsis", max_width=14)
    if final:
        table.add_column("final", no_wrap=True, overflow="ellipsis", max_width=18)
    for a in status.agents:
        row: list[RenderableType] = [Text(a.name), Text(a.direction), _state(a), str(a.submissions),
                                     _pgr(a.best_public_pgr), _pgr(a.promoted_pgr), str(a.flags)]
        if spend:
            row.append(f"{a.cost_usd:.2f}")
        if cluster:
            row.append(Text(_node(a, short=True)))
        table.add_row(*row, *((_final(a),) if final else ()))
    return Constrain(table, SUMMARY_WIDTH)


def report_line(state: Path, report: Path | None, dashboard_url: str | None = None) -> str:
    """Where the campaign's report is (or how to write it) and how to open its dashboard, in one line."""
    where = f"report: {report}" if report is not None else \
        f"report: not written; write it with `aarlab campaign report --state {state}`"
    if dashboard_url is not None:
        return f"{where} · dashboard: {dashboard_url}"
    return f"{where} · dashboard: `aarlab server start --state {state / 'server'} --port 8765`"


def agent_line(agent: AgentStatus) -> str:
    """One agent in one log line."""
    experiment = "-" if agent.experiment is None else \
        f"{agent.experiment}{' (running)' if agent.experiment_running else ''}"
    return (f"{agent.name}: {agent.state}; experiment {experiment}; {_n(agent.submissions, 'submission')}, "
            f"best public {_pgr(agent.best_public_pgr)}, promoted {_pgr(agent.promoted_pgr)}, "
            f"{_n(agent.flags, 'flag')}; left {budget_left(agent)}"
            + (f"; node {agent.node}" + (f" (moved {agent.moves}x)" if agent.moves else "") if agent.node else ""))


def change_lines(before: CampaignStatus | None, after: CampaignStatus) -> list[str]:
    """Log lines for what changed between two readings: one per agent whose state, experiment, submissions,
    scores or flags changed (every agent on the first reading)."""
    def key(a: AgentStatus) -> tuple[object, ...]:
        return (a.state, a.experiment, a.experiment_running, a.submissions, a.best_public_pgr, a.promoted_pgr,
                a.flags, a.node, a.moves)

    seen = {a.name: key(a) for a in before.agents} if before is not None else {}
    return [agent_line(a) for a in after.agents if seen.get(a.name) != key(a)]
