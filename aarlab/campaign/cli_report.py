"""Command ``aarlab campaign report`` (registered on ``campaign_app`` when imported by ``cli.register``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aarlab.campaign.cli import StateOpt, campaign_app, err, fail


@campaign_app.command("report")
def report(
    state: StateOpt,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path("report.html"),
) -> None:
    """Write a self-contained HTML report (agents, best scores, costs, PGR-over-time charts) that opens offline.

    Example: aarlab campaign report --state runs/c1 --out runs/c1/report.html
    """
    from aarlab.campaign._report import write_report
    from aarlab.campaign._state import CampaignError

    try:
        path = write_report(state, out)
    except CampaignError as e:
        raise fail(str(e)) from None
    err.print(f"report written to {path}", highlight=False)
