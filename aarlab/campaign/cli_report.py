"""Command ``aarlab campaign report`` (registered on ``campaign_app`` when imported by ``cli.register``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aarlab.campaign.cli import StateOpt, campaign_app, err, fail, out


@campaign_app.command("report")
def report(
    state: StateOpt,
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
    judge: Annotated[str | None, typer.Option(
        "--judge", help="Also score every agent's transcript with an LLM judge: a model string as for --agent "
        "(e.g. anthropic/claude-sonnet-4-5); its API key from the provider's environment variable")] = None,
    judge_base_url: Annotated[str | None, typer.Option(
        "--judge-base-url", help="The judge model's endpoint (an OpenAI-compatible or local server)")] = None,
) -> None:
    """Write a self-contained HTML report (promoted results and the verdict against the literature baselines,
    agents, best scores, costs, PGR-over-time charts, transcript monitor flags) that opens offline. The verdict is
    also printed: per dataset with a promoted result, whether the best promoted method that learns from the teacher
    beats every literature baseline, and if not, by how much it misses and why (from the run's own data).

    Example: aarlab campaign report --state runs/c1 --out runs/c1/report.html [--judge anthropic/claude-sonnet-4-5]
    """
    from aarlab.campaign._report import write_report
    from aarlab.campaign._state import CampaignError

    try:
        path, verdicts = write_report(state, out_file, judge=judge, judge_base_url=judge_base_url)
    except CampaignError as e:
        raise fail(str(e)) from None
    for verdict in verdicts:
        out.print(f"verdict: {verdict.headline}", highlight=False, markup=False, soft_wrap=True)
        for reason in verdict.reasons:
            out.print(f"  why ({reason.key}): {reason.text}", highlight=False, markup=False, soft_wrap=True)
    err.print(f"report written to {path}", highlight=False)
