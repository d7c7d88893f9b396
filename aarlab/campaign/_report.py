"""``aarlab campaign report``: one self-contained HTML file (inline CSS and SVG, no script, no external reference).

It shows what the dashboard shows, frozen: campaign status, agents and costs, best scores per dataset and the
PGR-over-time charts. Scores come from the server's stored submissions; costs from the harness's usage files.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from aarlab.campaign._state import CampaignError
from aarlab.campaign._verdict import Verdict

#: Result posts listed in the report (best verified public PGR first), each crediting whoever pushed its code first.
RESULT_POSTS = 200


def render_report(state: Path, *, judge: str | None = None, judge_base_url: str | None = None) -> str:
    """The report of the campaign in state dir ``state`` as an HTML string (see :func:`build_report`)."""
    return build_report(state, judge=judge, judge_base_url=judge_base_url)[0]


def build_report(state: Path, *, judge: str | None = None, judge_base_url: str | None = None,
                 ) -> tuple[str, list[Verdict]]:
    """The report of the campaign in state dir ``state`` as an HTML string, and its verdicts against the literature
    (one per dataset with a promoted result, :mod:`aarlab.campaign._verdict`).

    Every agent's transcript is scanned by the rule-based monitor; with ``judge`` (a model string), an LLM judge
    also scores each transcript (see :mod:`aarlab.agents.monitor`).
    """
    from aarlab.agents.monitor import check_judge, judge_agent, monitor_agent
    from aarlab.agents.runtime._model import ModelConfigError
    from aarlab.campaign._verdict import PromotedRun, campaign_verdicts, split_sizes
    from aarlab.server import ServerSettings, StateError, open_state
    from aarlab.server._forum import PostQuery, find_posts
    from aarlab.server._lineage import builds_on
    from aarlab.server._promotion import latest_promotions, linked_submissions
    from aarlab.server._scoring import load_answer_keys
    from aarlab.server.dashboard import (
        FlagCache,
        agent_colours,
        collect,
        pgr_chart,
        read_campaign,
        template_environment,
    )

    state = state.expanduser().resolve()
    if judge:
        try:
            check_judge(judge, base_url=judge_base_url)
        except ModelConfigError as err:
            raise CampaignError(f"--judge: {err}") from None
    if not (state / "campaign.json").is_file():
        raise CampaignError(f"{state} is not a campaign state dir (no campaign.json); give the dir that "
                            "`aarlab campaign run --state` made")
    try:
        opened = open_state(state / "server")
    except StateError as err:
        raise CampaignError(str(err)) from None
    files = read_campaign(state)
    budget = files.info.get("budget") if files else None
    default_budget = budget if isinstance(budget, int) else ServerSettings().default_budget
    try:
        with opened.db.reader.connect() as conn:
            data = collect(conn, suite=opened.info.suite, files=files, default_budget=default_budget,
                           flag_cache=FlagCache())
            results = find_posts(conn, PostQuery(kind="result", sort="score", limit=RESULT_POSTS))
            lineage = builds_on(conn, [p.id for p in results])
            promotions = sorted(latest_promotions(conn).values(),  # best promoted private PGR first
                                key=lambda p: -(p.private_pgr if p.private_pgr is not None else float("-inf")))
            promotable = linked_submissions(conn)
            sizes = split_sizes(load_answer_keys(conn))
    finally:
        opened.db.dispose()
    public: dict[str, list[float]] = {}
    for e in data.evaluations:
        if e.public_pgr is not None:
            public.setdefault(e.dataset, []).append(e.public_pgr)
    runs = [r for r in (PromotedRun.from_result({**p.result, "status": p.status}) for p in promotions) if r]
    verdicts = campaign_verdicts(runs, public, sizes)
    colours = agent_colours([a.name for a in data.agents])
    charts = {d.name: pgr_chart(d, data.evaluations, colours, namespace=False) for d in data.datasets}
    css = resources.files("aarlab.server.dashboard").joinpath("static/dashboard.css").read_text()
    best: dict[str, list] = {d.name: [] for d in data.datasets}
    for row in data.leaderboard.rows:
        best.setdefault(row.dataset, []).append(row)
    monitors = {a.name: monitor_agent(state, a.name) for a in data.agents}
    judged = {a.name: judge_agent(state, a.name, judge, base_url=judge_base_url) for a in data.agents} \
        if judge else {}
    html = template_environment().get_template("report.html").render(
        data=data, charts=charts, css=css, best=best, state=str(state), monitors=monitors, verdicts=judged,
        judge=judge, results=results, promotions=promotions, promotable=promotable,
        promoted_ids={p.submission_id for p in promotions}, campaign_verdicts=verdicts, lineage=lineage)
    return html, verdicts


def write_report(state: Path, out: Path, *, judge: str | None = None, judge_base_url: str | None = None,
                 ) -> tuple[Path, list[Verdict]]:
    """Write the report atomically to ``out``; returns its path and its verdicts."""
    html, verdicts = build_report(state, judge=judge, judge_base_url=judge_base_url)
    out = out.expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(html)
    os.replace(tmp, out)
    return out, verdicts
