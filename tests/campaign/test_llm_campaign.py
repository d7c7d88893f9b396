"""LLM campaigns end to end against a fake Anthropic server (a real HTTP server on loopback with scripted tool calls).

Two scenarios on the tiny suite, one agent each (the runtime, the tools, real sandboxes, a real scoring service):

* ``budget``: the agent writes a method file, runs it with ``w2s_run``, pushes a snapshot, submits, posts the
  result on the forum, writes its notebook, runs a second experiment and stops on its experiments budget; the
  transcript, usage and cost are recorded and ``campaign status`` reports them.
* ``resume``: the supervisor is SIGKILLed while the agent's shell command runs; ``campaign resume`` stops what the
  dead supervisor left running and restarts the agent, which continues from its transcript and notebook.
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

from aarlab.agents.tools import TOOL_NAMES
from aarlab.campaign._setup import server_dir
from aarlab.server import open_state
from aarlab.server._db import posts
from aarlab.suites import Suite
from tests.agents.fake_llm import FakeLLM, Reply, Turn, text, tool_use
from tests.agents.sandbox.conftest import needs_bwrap

pytestmark = needs_bwrap

MODEL = "anthropic/claude-sonnet-4-5"
METHOD = '''"""mine: train on rounded weak labels."""
from aarlab.w2s.methods import MethodContext, method


@method("mine", "Hard weak labels")
def run(ctx: MethodContext):
    student = ctx.strong.train(ctx.unlabeled, ctx.weak_targets(hard=True), seed=ctx.seed)
    return student.predict(ctx.test)
'''


def llm_env() -> dict[str, str]:
    return {**os.environ, "ANTHROPIC_API_KEY": "test-key-not-secret", "COLUMNS": "200"}


def last_tool_output(body: dict[str, Any]) -> str:
    """The text of the newest tool result in an Anthropic Messages request."""
    for message in reversed(body["messages"]):
        if message["role"] != "user" or not isinstance(message["content"], list):
            continue
        for block in reversed(message["content"]):
            if block.get("type") == "tool_result":
                content = block.get("content")
                if isinstance(content, list):
                    return "".join(b.get("text", "") for b in content)
                return str(content)
    raise AssertionError("no tool result in the request")


def events(state: Path, name: str = "agent-1") -> list[dict[str, Any]]:
    path = state / "agents" / name / "transcript.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Run:
    state: Path
    llm: FakeLLM
    code: int
    stderr: str
    dataset: str


@pytest.fixture(scope="module")
def budget_run(tiny_suite: Suite) -> Iterator[Run]:
    dataset = tiny_suite.spec.datasets[0]
    found: dict[str, str] = {}

    def submit(body: dict[str, Any]) -> list[dict[str, Any]]:
        found["snapshot"] = last_tool_output(body).split()[1]
        return [tool_use("submit", {"dataset": dataset, "predictions": f"predictions/{dataset}-mine-s0.jsonl",
                                    "method": "mine:probe"})]

    def post(body: dict[str, Any]) -> list[dict[str, Any]]:
        found["submission"] = re.search(r"submission id: (\S+)", last_tool_output(body)).group(1)  # type: ignore[union-attr]
        return [tool_use("forum_post", {"kind": "result", "title": "hard weak labels on a probe",
                                        "body": "Rounded weak labels, probe lane.", "receipt": found["submission"],
                                        "snapshot": found["snapshot"], "tags": ["probe"]})]

    script: list[Turn] = [
        [text("I will try hard weak labels first."), tool_use("write_file", {"path": "methods/mine.py",
                                                                             "content": METHOD})],
        [tool_use("w2s_run", {"dataset": dataset, "method": "methods/mine.py", "lane": "probe"})],
        [tool_use("snapshot_push", {"path": "methods"})],
        submit,
        post,
        [tool_use("notebook_write", {"content": "- hard weak labels (probe): submitted"})],
        [tool_use("w2s_run", {"dataset": dataset, "method": "methods/mine.py", "lane": "probe", "seed": 1})],
    ]
    root = Path(tempfile.mkdtemp(prefix="aarl-"))  # short: a Unix socket path is limited to 108 bytes
    state = root / "c"
    with FakeLLM(script, exhausted=Reply([text("nothing more to do")])) as llm:
        try:
            result = subprocess.run(
                [sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--home", str(tiny_suite.home),
                 "--state", str(state), "--agents", "1", "--agent", MODEL, "--base-url", llm.base_url,
                 "--minutes", "3", "--max-experiments", "2", "--usd", "5", "--trial-timeout", "60"],
                capture_output=True, text=True, env=llm_env(), timeout=180)
            yield Run(state, llm, result.returncode, result.stderr, dataset)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_the_llm_agent_researches_with_its_tools_and_stops_on_its_experiments_budget(budget_run: Run) -> None:
    assert budget_run.code == 0, budget_run.stderr
    log = events(budget_run.state)
    calls = [e["name"] for e in log if e["type"] == "tool_call"]
    assert calls == ["write_file", "w2s_run", "snapshot_push", "submit", "forum_post", "notebook_write", "w2s_run"]
    results = [e for e in log if e["type"] == "tool_result"]
    assert [r["name"] for r in results] == calls and not any(r["is_error"] for r in results), results
    assert all(e["t"] > 0 for e in log)
    final = [e for e in log if e["type"] == "state"][-1]
    assert final["state"] == "budget_exhausted" and "experiment" in final["reason"]
    assert budget_run.llm.remaining == 0 and len(budget_run.llm.requests) == 7  # no model call after the budget
    campaign_file = json.loads((budget_run.state / "campaign.json").read_text())
    assert campaign_file["agents"][0]["state"] == "done" and campaign_file["ended_at"] is not None


def test_the_model_sees_the_tools_and_its_direction_but_no_secret(budget_run: Run) -> None:
    first = budget_run.llm.requests[0]
    assert [t["name"] for t in first.body["tools"]] == list(TOOL_NAMES)
    assignment = json.loads((budget_run.state / "agents" / "agent-1" / "agent.json").read_text())
    assert assignment["model"] == MODEL and assignment["direction_text"]
    system = json.dumps(first.body.get("system"))
    assert assignment["direction_text"].split()[0] in system
    token = (budget_run.state / "agents" / "agent-1" / "token").read_text().strip()
    assert all(token not in json.dumps(r.body) for r in budget_run.llm.requests)


def test_transcript_usage_and_status_record_the_cost(budget_run: Run) -> None:
    usage = json.loads((budget_run.state / "agents" / "agent-1" / "usage.json").read_text())
    assert usage["experiments"] == 2 and usage["llm_calls"] == 7 and usage["cost_usd"] > 0
    assert usage["state"] == "budget_exhausted" and usage["budget"]["experiments"] == 2
    spent = sum(e["cost_usd"] for e in events(budget_run.state) if e["type"] == "usage")
    assert spent == pytest.approx(usage["cost_usd"])
    status = subprocess.run([sys.executable, "-m", "aarlab", "campaign", "status", "--state", str(budget_run.state),
                             "--json"], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    agent = json.loads(status.stdout)["agents"][0]
    assert set(agent) == {"name", "direction", "state", "best_public_pgr", "cost_usd", "submissions", "final",
                          "experiment", "experiment_running", "experiments", "promoted_pgr", "flags",
                          "evaluations_left", "experiments_left", "usd_left", "node", "moves"}
    assert agent["experiments"] == 2 and agent["experiments_left"] == 0
    assert agent["cost_usd"] == pytest.approx(usage["cost_usd"]) and agent["submissions"] == 1
    assert agent["best_public_pgr"] is not None


def test_the_result_post_cites_a_verified_receipt_and_a_snapshot(budget_run: Run) -> None:
    opened = open_state(server_dir(budget_run.state))
    try:
        with opened.db.reader.connect() as conn:
            rows = conn.execute(select(posts).where(posts.c.kind == "result")).mappings().all()
    finally:
        opened.db.dispose()
    assert len(rows) == 1 and rows[0]["verified_public_pgr"] is not None and rows[0]["snapshot_id"]
    assert rows[0]["verified_dataset"] == budget_run.dataset
    workspace = budget_run.state / "agents" / "agent-1" / "workspace"
    assert (workspace / "NOTEBOOK.md").read_text().startswith("- hard weak labels")
    assert (workspace / "predictions" / f"{budget_run.dataset}-mine-s1.jsonl").is_file()


@pytest.fixture(scope="module")
def resume_run(tiny_suite: Suite) -> Iterator[tuple[Run, dict[str, Any], int]]:
    seen: dict[str, Any] = {}

    def after_restart(body: dict[str, Any]) -> list[dict[str, Any]]:
        seen["body"] = body
        return [tool_use("notebook_read", {})]

    script: list[Turn] = [
        [tool_use("notebook_write", {"content": "step 1: plan written"})],
        [tool_use("shell", {"command": "sleep 120"})],
        after_restart,
    ]
    root = Path(tempfile.mkdtemp(prefix="aarl-"))
    state = root / "c"
    with FakeLLM(script, exhausted=Reply([text("I am done.")])) as llm:
        run = subprocess.Popen(
            [sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--home", str(tiny_suite.home),
             "--state", str(state), "--agents", "1", "--agent", MODEL, "--base-url", llm.base_url, "--minutes", "3"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=llm_env(), start_new_session=True)
        try:
            wait_for(lambda: any(e["type"] == "tool_call" and e["name"] == "shell" for e in events(state)),
                     "the agent's shell call")
            agent_pid = json.loads((state / "campaign.json").read_text())["agents"][0]["pid"]
            os.kill(run.pid, signal.SIGKILL)  # the supervisor only: its agent and server are left running
            run.wait(10)
            resumed = subprocess.run([sys.executable, "-m", "aarlab", "campaign", "resume", "--state", str(state),
                                      "--minutes", "1"], capture_output=True, text=True, env=llm_env(), timeout=120)
            yield Run(state, llm, resumed.returncode, resumed.stderr, ""), seen, agent_pid
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
            shutil.rmtree(root, ignore_errors=True)


def test_a_killed_campaign_resumes_and_the_agent_continues_from_its_transcript(
        resume_run: tuple[Run, dict[str, Any], int]) -> None:
    run, seen, agent_pid = resume_run
    assert run.code == 0, run.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(agent_pid, 0)  # resume stopped the agent the killed supervisor had left behind
    log = events(run.state)
    shell = next(e for e in log if e["type"] == "tool_call" and e["name"] == "shell")
    interrupted = next(e for e in log if e["type"] == "tool_result" and e["id"] == shell["id"])
    assert interrupted["is_error"] and "interrupted" in interrupted["output"]
    states = [e["state"] for e in log if e["type"] == "state"]
    assert states[0] == "running" and states[-1] == "done" and states.count("running") >= 2
    restored = json.dumps(seen["body"]["messages"])
    assert "step 1: plan written" in restored and shell["id"] in restored  # the old conversation, and the notebook
    assert json.loads((run.state / "campaign.json").read_text())["agents"][0]["state"] == "done"
