"""The search agent's transcript and usage files, its experiments budget, and the operator's control channel
(pause / messages / stop), against a real scoring service and sandbox on the tiny suite."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aarlab.agents.search import SearchAgent
from aarlab.campaign._llm import LLMOptions
from aarlab.campaign._run import ScoringServer, server_settings
from aarlab.campaign._setup import server_dir, setup_campaign
from aarlab.client import ControlClient
from aarlab.suites import Suite
from tests.agents.sandbox.conftest import needs_bwrap

pytestmark = needs_bwrap


@dataclass
class Campaign:
    state: Path
    admin: ControlClient


@pytest.fixture
def campaign(tiny_suite: Suite) -> Iterator[Campaign]:
    root = Path(tempfile.mkdtemp(prefix="aarj-"))  # short: a Unix socket path is limited to 108 bytes
    state = root / "c"
    info = setup_campaign(state, suite="tiny", home=tiny_suite.home, agents=1, kind="search", minutes=3,
                          concurrency=1, budget=10, trial_timeout_s=60, log=lambda _m: None,
                          llm=LLMOptions(model="search", budget_experiments=1))
    server = ScoringServer(state, info, server_settings(info.budget))
    server.start()
    admin = ControlClient(token=(server_dir(state) / "admin.token").read_text().strip(),
                          uds=str(state / "scoring.sock"))
    try:
        yield Campaign(state, admin)
    finally:
        admin.close()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def events(state: Path) -> list[dict[str, Any]]:
    path = state / "agents" / "search-1" / "transcript.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def test_a_trial_is_recorded_as_tool_calls_and_the_experiments_budget_stops_the_agent(campaign: Campaign) -> None:
    ran = SearchAgent(campaign.state, "search-1", log=lambda _m: None).run()
    assert ran == 1
    log = events(campaign.state)
    calls = [e["name"] for e in log if e["type"] == "tool_call"]
    assert calls[:4] == ["w2s_run", "submit", "snapshot_push", "forum_post"] and len(calls) == 4
    run = next(e for e in log if e["type"] == "tool_call" and e["name"] == "w2s_run")
    assert run["input"]["seed"] == 1000  # the agent's own seed: two agents running one method differ
    results = {e["id"]: e for e in log if e["type"] == "tool_result"}
    for call in (e for e in log if e["type"] == "tool_call"):
        assert not results[call["id"]]["is_error"] and results[call["id"]]["duration_s"] >= 0
    assert "public PGR" in next(r["output"] for r in results.values() if r["name"] == "submit")
    assert [e["state"] for e in log if e["type"] == "state"] == ["running", "budget_exhausted"]
    usage = json.loads((campaign.state / "agents" / "search-1" / "usage.json").read_text())
    assert usage["experiments"] == 1 and usage["submissions"] == 1 and usage["cost_usd"] == 0.0
    assert usage["state"] == "budget_exhausted" and usage["budget"]["experiments"] == 1


def test_the_operator_pauses_messages_and_stops_the_agent_between_trials(campaign: Campaign) -> None:
    campaign.admin.set_state("search-1", "pause")
    campaign.admin.message("search-1", "hold on, checking the sandbox")
    agent = SearchAgent(campaign.state, "search-1", log=lambda _m: None)
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(agent.run()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not any(e["type"] == "state" and e["state"] == "paused" for e in events(campaign.state)):
        assert time.monotonic() < deadline, "the agent never paused"
        time.sleep(0.2)
    campaign.admin.set_state("search-1", "stop")
    thread.join(30)
    assert done == [0]  # no trial ran: paused, then stopped
    log = events(campaign.state)
    assert [e["state"] for e in log if e["type"] == "state"] == ["running", "paused", "stopped"]
    operator = [e for e in log if e["type"] == "operator"]
    assert [e["content"] for e in operator] == ["hold on, checking the sandbox"] and operator[0]["message_id"] >= 1
    assert not any(e["type"] == "tool_call" for e in log)
