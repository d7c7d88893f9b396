"""Resume: a restarted agent rebuilds its conversation from the transcript (interrupted tool calls answered),
continues its usage totals, and gets its notebook back. The end-to-end test SIGKILLs a real agent process
(``python -m aarlab.agents.runtime`` with its real sandboxed tools) in the middle of a tool call."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aarlab.agents.runtime import read_events, replay
from aarlab.agents.runtime._history import INTERRUPTED
from aarlab.campaign._state import AgentAssignment
from tests.agents.fake_llm import FakeLLM, Reply, text, tool_use
from tests.agents.runtime.conftest import FakeToolBox, RunFiles, make_run

REPO = Path(__file__).resolve().parents[3]


def test_a_tool_call_without_result_gets_an_interrupted_result() -> None:
    events = [{"type": "message", "role": "system", "content": "sys"},
              {"type": "message", "role": "user", "content": "go"},
              {"type": "message", "role": "assistant", "content": "two things"},
              {"type": "tool_call", "id": "a", "name": "shell", "input": {"command": "ls"}},
              {"type": "tool_call", "id": "b", "name": "w2s_run", "input": {}},
              {"type": "tool_result", "id": "a", "name": "shell", "output": "x", "is_error": False},
              {"type": "operator", "content": "hello", "message_id": 4}]
    conversation, info = replay(events, "unused")
    roles = [m.role for m in conversation.messages]
    assert roles == ["system", "user", "assistant", "tool", "tool", "user"]
    assert conversation.messages[4].text == INTERRUPTED  # b was answered before the operator's message
    assert info.dangling == [] and info.last_operator_id == 4
    _, open_info = replay(events[:5], "unused")
    assert open_info.dangling == [("a", "shell"), ("b", "w2s_run")]


def test_a_half_written_last_line_is_dropped_and_cut_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "transcript.jsonl"
    path.write_text('{"t": 1.0, "type": "message", "role": "user", "content": "a"}\n{"t": 2.0, "type": "mes')
    assert [e["content"] for e in read_events(path)] == ["a"]
    assert path.read_text().endswith('"a"}\n')


def test_an_in_process_restart_continues_the_conversation_and_the_totals(files: RunFiles) -> None:
    with FakeLLM([Reply([tool_use("shell", {"command": "ls"})], 100, 10)],
                 exhausted=Reply([text("done")], 100, 10)) as llm:
        make_run(files, llm.base_url, FakeToolBox()).run()
    first_calls = files.usage()["llm_calls"]
    with FakeLLM([], exhausted=Reply([text("still done")], 100, 10)) as llm:
        make_run(files, llm.base_url, FakeToolBox(notebook_text="- baseline 0.2")).run()
        resumed = llm.requests[0].body["messages"]
    assert files.usage()["llm_calls"] == first_calls + 3 and files.usage()["restarts"] == 1
    assert "restarted" in str(resumed[-1]["content"]) and "baseline 0.2" in str(resumed[-1]["content"])
    assert [e["role"] for e in files.events("message")].count("system") == 1


@pytest.fixture
def campaign_agent() -> Iterator[tuple[Path, str]]:
    """A campaign dir with one LLM agent (no scoring service: control polls fail and are tolerated)."""
    root = Path(tempfile.mkdtemp(prefix="aarr-"))
    state, name = root / "c", "agent-1"
    agent_dir = state / "agents" / name
    (agent_dir / "workspace").mkdir(parents=True)
    (agent_dir / "token").write_text("test-token\n")
    yield state, name
    shutil.rmtree(root, ignore_errors=True)


def write_assignment(state: Path, name: str, home: Path, base_url: str) -> None:
    assignment = AgentAssignment(name=name, kind="anthropic/claude-test", direction="Latent labels", suite="tiny",
                                 home=str(home), datasets=["math"], seed=0, deadline=time.time() + 600,
                                 model="anthropic/claude-test", base_url=base_url,
                                 direction_name="latent-label-modelling",
                                 budget_usd=5.0, prices_file=str(state / "prices.toml"))
    (state / "prices.toml").write_text('[models."claude-test"]\ninput = 3.0\noutput = 15.0\n')
    (state / "agents" / name / "agent.json").write_text(assignment.model_dump_json())


def start_agent(state: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ANTHROPIC_API_KEY": "test-key", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "aarlab.agents.runtime", "--state", str(state), "--agent", name],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(predicate: object, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_an_agent_killed_mid_tool_call_resumes_from_its_transcript(campaign_agent: tuple[Path, str],
                                                                   tiny_home: Path) -> None:
    state, name = campaign_agent
    agent_dir = state / "agents" / name
    script = [Reply([tool_use("write_file", {"path": "methods/mine.py", "content": "# my method\n"}, call_id="w1"),
                     tool_use("notebook_write", {"content": "- plan: reweight by confidence"}, call_id="n1")],
                    1000, 100),
              Reply([tool_use("shell", {"command": "sleep 60"}, call_id="s1")], 1100, 20)]
    with FakeLLM(script, exhausted=Reply([text("All done.")], 1200, 10)) as llm:
        write_assignment(state, name, tiny_home, llm.base_url)
        first = start_agent(state, name)
        transcript = agent_dir / "transcript.jsonl"
        wait_for(lambda: transcript.is_file() and '"s1"' in transcript.read_text())
        time.sleep(1.0)  # the sandboxed `sleep 60` is running
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        assert (agent_dir / "workspace" / "methods" / "mine.py").read_text() == "# my method\n"
        assert json.loads((agent_dir / "usage.json").read_text())["llm_calls"] == 2

        second = start_agent(state, name)
        output = second.communicate(timeout=300)[0].decode()
        assert second.returncode == 0, output
        resumed = llm.requests[2].body
    events = [json.loads(line) for line in transcript.read_text().splitlines()]
    result = next(e for e in events if e["type"] == "tool_result" and e["id"] == "s1")
    assert result["output"] == INTERRUPTED and result["is_error"] is True
    # The resumed process's first call carries the whole history, the interrupted result and the notebook.
    messages = resumed["messages"]
    assert "tool_use_id': 's1'" in str(messages) and "w1" in str(messages)
    assert "plan: reweight by confidence" in str(messages[-1]["content"])
    assert "Noisy-channel and latent-label modelling" in resumed["system"][0]["text"]  # the built-in direction
    usage = json.loads((agent_dir / "usage.json").read_text())
    assert usage["llm_calls"] == 5 and usage["restarts"] == 1 and usage["state"] == "done"
    assert usage["cost_usd"] == pytest.approx((1000 * 3 + 100 * 15 + 1100 * 3 + 20 * 15 + 3 * (1200 * 3 + 10 * 15))
                                              / 1e6)
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states[0] == "running" and states[-1] == "done" and states.count("running") == 2
