"""``campaign status``: stored results per agent, and the private scores of the final table once finalized."""

from __future__ import annotations

import time
from pathlib import Path

from aarlab.campaign._state import AgentRecord, CampaignInfo, save_campaign
from aarlab.campaign._status import campaign_status
from aarlab.server import ServerSettings
from tests.server.conftest import RunningServer, start_server
from tests.server.fakesuite import SUITE, write_fake_suite


def _campaign(tmp_path: Path) -> tuple[Path, RunningServer]:
    state = tmp_path / "campaign"
    home = write_fake_suite(tmp_path / "home")
    server = start_server(home, state / "server", None, ServerSettings(rate_per_s=1000, rate_burst=1000))
    now = time.time()
    save_campaign(state, CampaignInfo(suite=SUITE, home=str(home), agent_kind="search", minutes=1, concurrency=1,
                                      budget=50, started_at=now, deadline=now + 60,
                                      agents=[AgentRecord(name="a1", direction="d", state="done")]))
    return state, server


def test_status_shows_each_agents_selected_private_score_once_finalized(tmp_path: Path) -> None:
    state, server = _campaign(tmp_path)
    try:
        labels = server.labels("math")
        with server.client(server.add_agent(name="a1")) as client:
            best = client.submit("math", {i: float(y) for i, y in labels.items()}, method="oracle")
            client.submit("math", {i: 0.5 for i in labels}, method="flat")
            before = campaign_status(state)
            with server.client(server.admin_token) as admin:
                admin.finalize()
        after = campaign_status(state)
    finally:
        server.stop()
    assert before.finalized_at is None and before.agents[0].final == []
    assert after.finalized_at is not None
    (row,) = after.agents[0].final
    assert (row.dataset, row.method, row.submission_id) == ("math", "oracle", best.id)
    assert row.private_transfer_acc == 1.0 and row.private_pgr == round((1 - 0.55) / 0.2, 2)
