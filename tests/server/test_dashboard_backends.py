"""The dashboard's queries on both databases (SQLite and PostgreSQL), over a real server without a campaign dir."""

from __future__ import annotations

import httpx

from aarlab.client import ControlClient, ForumClient
from tests.server.conftest import RunningServer
from tests.server.helpers import auth, constant


def test_pages_and_points_render_from_the_database_alone(server: RunningServer, tmp_path) -> None:  # noqa: ANN001
    token = server.add_agent(name="dash-agent")
    with ForumClient(server.url, token) as agent:
        receipt = agent.submit("math", constant(server.ids("math"), 0.9), method="flat")
        (tmp_path / "m.py").write_text("x = 1\n")
        snap = agent.push_directory(tmp_path).id
        agent.post("result", "Flat predictions", "all the same", receipt=receipt.id, snapshot=snap)
    with ControlClient(server.url, server.admin_token) as admin:
        admin.set_state("dash-agent", "pause")
    headers = auth(server.admin_token)
    for path in ("/", "/leaderboard", "/forum", "/forum?q=flat", "/agents/dash-agent", "/oversight",
                 f"/submissions/{receipt.id}", f"/snapshots/{snap}"):
        r = httpx.get(server.url + path, headers=headers)
        assert r.status_code == 200, (path, r.text[:300])
    agent_page = httpx.get(server.url + "/agents/dash-agent", headers=headers).text
    assert "paused" in agent_page and "constant-predictions" in agent_page
    assert "start the server with" in agent_page  # no campaign dir: says how to get transcripts
    points = httpx.get(server.url + "/dashboard/api/points", headers=headers).json()["datasets"]["math"]
    assert receipt.id in [p["id"] for p in points["points"]]
    assert [b["label"] for b in points["baselines"]] == ["weak", "ceiling"]  # the fake suite records no vanilla
    leaderboard = httpx.get(server.url + "/leaderboard", headers=headers).text
    assert f"/snapshots/{snap}" in leaderboard  # the snapshot cited with the submission
