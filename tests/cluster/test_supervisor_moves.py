"""The supervisor's bookkeeping of lost nodes: a move is not a crash restart, and moves are bounded."""

from __future__ import annotations

from pathlib import Path

from aarlab.campaign._run import MAX_MOVES, MAX_RESTARTS, Supervisor
from aarlab.campaign._state import AgentRecord, CampaignInfo, ClusterSettings, load_campaign, now, save_campaign


class _Handle:
    def __init__(self, outcome: str, code: int | None = None, error: str | None = None) -> None:
        self.outcome, self.code, self.error, self.closed = outcome, code, error, False

    def poll(self) -> tuple[str, int | None]:
        return self.outcome, self.code

    def placed(self) -> str | None:
        return "10.0.0.2/abcd1234"

    def stop(self) -> int | None:
        return self.code

    def close(self) -> None:
        self.closed = True


def _state(tmp_path: Path) -> Path:
    settings = ClusterSettings(address="10.0.0.1:6379", storage=(tmp_path / "store").as_uri(), campaign_id="c-1",
                               service_url="http://10.0.0.1:8765", request={"CPU": 1.0})
    info = CampaignInfo(suite="tiny", home=str(tmp_path), agent_kind="search", minutes=10, concurrency=2, budget=5,
                        started_at=now(), deadline=now() + 600, agents=[AgentRecord(name="a1", direction="d")],
                        cluster=settings)
    save_campaign(tmp_path, info)
    return tmp_path


def test_a_lost_node_moves_the_agent_without_spending_its_restart(tmp_path: Path) -> None:
    logs: list[str] = []
    supervisor = Supervisor(_state(tmp_path), log=logs.append)
    for move in range(1, MAX_MOVES + 1):
        handle = _Handle("lost")
        supervisor.processes["a1"] = handle
        supervisor._reap("a1", "lost", None)
        record = load_campaign(tmp_path).agent("a1")
        assert (record.state, record.moves, record.restarts) == ("pending", move, 0) and handle.closed
    supervisor.processes["a1"] = _Handle("lost")
    supervisor._reap("a1", "lost", None)
    assert load_campaign(tmp_path).agent("a1").state == "crashed"
    assert any("starting it on another node from its last checkpoint" in line for line in logs)
    assert f"it has moved {MAX_MOVES} times" in logs[-1]


def test_a_host_failure_on_its_node_is_a_crash_with_its_reason_logged(tmp_path: Path) -> None:
    logs: list[str] = []
    supervisor = Supervisor(_state(tmp_path), log=logs.append)
    supervisor.processes["a1"] = _Handle("exited", 1, error="StorageError: cannot read")
    supervisor._reap("a1", "exited", 1)
    record = load_campaign(tmp_path).agent("a1")
    assert (record.state, record.restarts, record.moves) == ("pending", MAX_RESTARTS, 0)
    assert "a1 failed on its node: StorageError: cannot read" in logs
