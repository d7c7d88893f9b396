"""``aarlab campaign report`` on a seeded campaign: a self-contained file with the tables and the chart points."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from aarlab.cli import app
from tests.dashboard.seed import SeededCampaign


def test_the_report_is_self_contained_and_holds_tables_chart_and_costs(seeded: SeededCampaign,
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["campaign", "report", "--state", str(seeded.campaign), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|img|iframe)\b", html)  # nothing loads or runs
    assert html.count('class="point"') >= 7  # every seeded evaluation with a PGR
    assert 'data-label="vanilla"' in html and 'data-label="best literature (confidence)"' in html
    for name in ("alice", "bob"):
        assert f'<tr data-agent="{name}">' in html
    assert "$1.50 / $10.00" in html and "$3.00/h" in html  # alice: cost, budget, cost per agent-hour
    assert 'data-dataset="math"' in html and 'data-dataset="chat"' in html
    assert "constant-predictions" in html


def test_the_report_of_a_dir_without_a_campaign_says_what_to_give(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["campaign", "report", "--state", str(tmp_path), "--out",
                                      str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "no campaign.json" in result.output
    assert not (tmp_path / "r.html").exists()
