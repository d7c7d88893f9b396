"""A real campaign on the tiny suite: two search agents, a scoring service, sandboxes, a crash, Ctrl-C, resume.

One scenario (module fixture, about a minute): ``campaign run`` starts; search-1 is SIGKILLed after its first
submission (the supervisor restarts it and its optuna study resumes); the run is interrupted with SIGINT
(Ctrl-C); ``campaign resume`` finishes it. The tests then read what the server stored.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aarlab.campaign._setup import server_dir
from aarlab.server import open_state
from aarlab.server._db import posts
from aarlab.suites import Suite
from tests.agents.sandbox.conftest import needs_bwrap

pytestmark = needs_bwrap


def aarlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aarlab", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def campaign_json(state: Path) -> dict[str, Any]:
    return json.loads((state / "campaign.json").read_text())


def agent_record(state: Path, name: str) -> dict[str, Any]:
    if not (state / "campaign.json").is_file():
        return {}
    return next(a for a in campaign_json(state)["agents"] if a["name"] == name)


def log_of(state: Path, name: str) -> str:
    path = state / "logs" / f"{name}.log"
    return path.read_text() if path.is_file() else ""


@dataclass
class Scenario:
    state: Path
    interrupted_code: int
    after_interrupt: dict[str, Any]
    killed_pid: int
    resume: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def scenario(tiny_suite: Suite) -> Iterator[Scenario]:
    root = Path(tempfile.mkdtemp(prefix="aarc-"))  # short: a Unix socket path is limited to 108 bytes
    # --minutes is long enough that the campaign is still running when it is interrupted; the interrupt comes as soon
    # as the restart has been seen. SIGINT is reset to its default in the child: a test run started in the background
    # of a non-interactive shell inherits SIGINT *ignored*, and Python then never raises KeyboardInterrupt.
    state = root / "c"
    run = subprocess.Popen([sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--agents", "2",
                            "--minutes", "3", "--budget", "30", "--trial-timeout", "60", "--state", str(state),
                            "--home", str(tiny_suite.home)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: "trial 0:" in log_of(state, "search-1"), "search-1's first submission")
        pid = agent_record(state, "search-1")["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: "trials done before" in log_of(state, "search-1").split("trial 0:", 1)[1],
                 "search-1 to be restarted")
        # one more trial finished (submitted or failed) after the restart: the restarted study goes on
        wait_for(lambda: re.search(r"trials done before(.|\n)*\btrial (\d+:|\w+ lr)",
                                   log_of(state, "search-1").split("trial 0:", 1)[1]) is not None,
                 "search-1 to go on after the restart")
        run.send_signal(signal.SIGINT)
        code = run.wait(60)
        after = campaign_json(state)
        resumed = aarlab("campaign", "resume", "--state", str(state), "--minutes", "0.35")
        yield Scenario(state, code, after, pid, resumed)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        _kill_campaign_processes(state)
        shutil.rmtree(root, ignore_errors=True)


def _kill_campaign_processes(state: Path) -> None:
    """Agents and the server run in sessions of their own: a failed test must not leave them running."""
    if not (state / "campaign.json").is_file():
        return
    info = campaign_json(state)
    for pid in [a.get("pid") for a in info["agents"]] + [info.get("server_pid")]:
        if pid:
            try:
                if str(state).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.killpg(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass


def test_status_json_has_exactly_the_documented_keys_and_counts_stored_submissions(scenario: Scenario) -> None:
    result = aarlab("campaign", "status", "--state", str(scenario.state), "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert set(status) == {"best_public_pgr", "finalized_at", "agents", "time_left_s", "dashboard_url"}
    assert [a["name"] for a in status["agents"]] == ["search-1", "search-2"]
    for agent in status["agents"]:
        assert set(agent) == {"name", "direction", "state", "best_public_pgr", "cost_usd", "submissions", "final",
                              "experiment", "experiment_running", "experiments", "promoted_pgr", "flags",
                              "evaluations_left", "experiments_left", "usd_left", "node", "moves"}
        assert agent["node"] is None and agent["moves"] == 0  # set for --cluster campaigns only
        assert agent["submissions"] >= 1 and agent["cost_usd"] == 0.0 and agent["state"] == "done"
    assert status["best_public_pgr"] == max(a["best_public_pgr"] for a in status["agents"])


def test_agents_post_results_citing_verified_receipts_and_snapshots(scenario: Scenario) -> None:
    opened = open_state(server_dir(scenario.state))
    try:
        with opened.db.reader.connect() as conn:
            rows = conn.execute(select(posts).where(posts.c.kind == "result")).mappings().all()
    finally:
        opened.db.dispose()
    assert rows, "no result post"
    for row in rows:
        assert row["verified_public_pgr"] is not None and row["snapshot_id"] and row["receipt"]
        assert "```json" in row["body"]


def test_a_killed_agent_is_restarted_once_and_resumes_its_study(scenario: Scenario) -> None:
    record = next(a for a in scenario.after_interrupt["agents"] if a["name"] == "search-1")
    assert record["restarts"] == 1
    resumed_with = re.findall(r"(\d+) trials done before", log_of(scenario.state, "search-1"))
    assert int(resumed_with[1]) >= 1  # the restarted process found the first process's trials in its study


def test_ctrl_c_stops_the_campaign_and_resume_finishes_it(scenario: Scenario) -> None:
    assert scenario.interrupted_code == 130
    assert scenario.after_interrupt["stopped_at"] is not None
    assert {a["state"] for a in scenario.after_interrupt["agents"]} <= {"stopped", "done"}
    assert all(a["pid"] is None for a in scenario.after_interrupt["agents"])
    assert scenario.resume.returncode == 0, scenario.resume.stderr
    final = campaign_json(scenario.state)
    assert final["ended_at"] is not None and {a["state"] for a in final["agents"]} == {"done"}
    with pytest.raises(ProcessLookupError):
        os.kill(scenario.killed_pid, 0)


def test_resume_of_a_finished_campaign_says_so(scenario: Scenario) -> None:
    result = aarlab("campaign", "resume", "--state", str(scenario.state))
    assert result.returncode == 2 and "every agent" in result.stderr


def test_experiments_run_in_a_sandbox_that_sees_the_models_but_no_labels(scenario: Scenario, tiny_suite: Suite) -> None:
    from aarlab.agents.search import SearchAgent

    sandbox = SearchAgent(scenario.state, "search-1").sandbox(30)
    assert sandbox.exec(["test", "-d", str(tiny_suite.root / "models" / "strong")]).exit_code == 0
    for hidden in (tiny_suite.root / "data", tiny_suite.root / "cache", server_dir(scenario.state)):
        assert sandbox.exec(["test", "-e", str(hidden)]).exit_code == 1, hidden
    assert sandbox.exec(["test", "-f", "/data/math/weak_soft_labels.jsonl"]).exit_code == 0


def test_campaign_commands_explain_themselves() -> None:
    for command in ("run", "resume", "status"):
        result = aarlab("campaign", command, "--help")
        assert result.returncode == 0 and "--state" in result.stdout, command
