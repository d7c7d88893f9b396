"""The campaign report and the dashboard's post page credit whoever pushed a result's cited code first."""

from __future__ import annotations

from pathlib import Path

import httpx

from aarlab.campaign._report import render_report
from aarlab.client import ForumClient
from tests.dashboard.seed import SeededCampaign


def test_the_report_credits_the_first_pusher_of_code_another_agent_re_pushed(seeded: SeededCampaign,
                                                                             tmp_path: Path) -> None:
    workspace = tmp_path / "copy"
    workspace.mkdir()
    (workspace / "method.py").write_text("def run(ctx):\n    return {}\n")  # alice's bytes, pushed again by bob
    with ForumClient(seeded.url, seeded.tokens["bob"]) as bob:
        snapshot = bob.push_directory(workspace).id
        receipt = bob.submissions()[-1]
        post = bob.post("result", "My own confidence loss", "all mine", receipt=receipt.id, snapshot=snapshot)
    assert post.code_first_pushed_by == "alice"
    html = render_report(seeded.campaign)
    row = html[html.index(f'<tr data-post="{post.id}"'):]
    row = row[:row.index("</tr>")]
    assert "code first pushed by alice at" in row and "<td>bob</td>" in row
    assert html.count("code first pushed by") == 1  # alice's own result post has no credit line
    with httpx.Client(base_url=seeded.url) as viewer:
        viewer.post("/login", data={"token": seeded.viewer_token, "next": "/forum"})
        page = viewer.get(f"/forum/{post.id}").text
    assert 'code first pushed by <a href="/agents/alice">alice</a> at' in page
