"""The search agent's host process never writes or reads through what its sandboxed trials planted in the
workspace (a symlink at ``last_trial.log``, a FIFO at ``predictions.jsonl``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aarlab._agentfiles import UnsafeAgentFile
from aarlab.agents.sandbox import ExecResult
from aarlab.agents.search import SearchAgent, TrialConfig
from aarlab.agents.search._journal import Journal
from aarlab.client import PredictionsFileError
from tests.test_agentfiles import finishes


class FakeSandbox:
    """Stands in for the bubblewrap sandbox: the trial 'runs' and prints; the test plants files beforehand."""

    def exec(self, argv: list[str], **_: Any) -> ExecResult:
        return ExecResult(exit_code=0, stdout="trial output\n", stderr="", duration_s=0.1)


@pytest.fixture
def agent(tmp_path: Path) -> SearchAgent:
    agent_dir = tmp_path / "agents" / "search-1"
    (agent_dir / "workspace").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    found = SearchAgent.__new__(SearchAgent)
    found.layout = SimpleNamespace(workspace=agent_dir / "workspace", agent_dir=agent_dir)  # type: ignore[assignment]
    found.assignment = SimpleNamespace(suite="tiny", home=str(tmp_path), trial_timeout_s=10,  # type: ignore[assignment]
                                       seed=1000)
    found.dataset = "math"
    found.journal = Journal(agent_dir, None, None)
    found._sandbox = FakeSandbox()  # type: ignore[assignment]
    found.logged = []  # type: ignore[attr-defined]
    found.log = found.logged.append  # type: ignore[attr-defined]
    return found


def _events(agent: SearchAgent) -> list[dict[str, Any]]:
    text = (agent.layout.agent_dir / "transcript.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_the_trial_log_is_written_into_the_workspace(agent: SearchAgent) -> None:
    assert agent.run_in_sandbox(TrialConfig(method="vanilla"), 10) is not None
    assert (agent.layout.workspace / "last_trial.log").read_text() == "trial output\n"


def test_a_symlinked_trial_log_is_refused_and_nothing_is_written_outside(agent: SearchAgent) -> None:
    victim = agent.layout.agent_dir.parent.parent / "outside" / "victim"
    victim.write_text("original")
    (agent.layout.workspace / "last_trial.log").symlink_to(victim)
    (agent.layout.workspace / "dangling.log").symlink_to(victim.with_name("created"))
    assert agent.run_in_sandbox(TrialConfig(method="vanilla"), 10) is not None  # the trial itself still counts
    assert victim.read_text() == "original"
    assert not agent.write_workspace("dangling.log", "x")
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim"]
    assert any("not writing last_trial.log" in m and "symlink" in m for m in agent.logged)  # type: ignore[attr-defined]
    assert any(e["type"] == "refused" and e["path"] == "last_trial.log" for e in _events(agent))


def test_best_config_is_not_written_through_a_symlinked_workspace_entry(agent: SearchAgent) -> None:
    victim = agent.layout.agent_dir.parent.parent / "outside" / "best_config.json"
    (agent.layout.workspace / "best_config.json").symlink_to(victim)
    assert not agent.write_workspace("best_config.json", TrialConfig(method="soft").model_dump_json())
    assert not victim.exists()


def test_a_fifo_planted_as_predictions_is_refused_promptly(agent: SearchAgent) -> None:
    os.mkfifo(agent.layout.workspace / "predictions.jsonl")
    with pytest.raises(PredictionsFileError, match="FIFO"):
        finishes(lambda: agent.submit(None, TrialConfig(method="vanilla"),  # type: ignore[arg-type]
                                      agent.layout.workspace / "predictions.jsonl"))


def test_symlinked_predictions_are_refused(agent: SearchAgent) -> None:
    secret = agent.layout.agent_dir.parent.parent / "outside" / "labels.jsonl"
    secret.write_text('{"id": "a", "p": 1.0}\n')
    (agent.layout.workspace / "predictions.jsonl").symlink_to(secret)
    with pytest.raises(PredictionsFileError, match="symlink"):
        agent.submit(None, TrialConfig(method="vanilla"), agent.layout.workspace / "predictions.jsonl")  # type: ignore[arg-type]


def test_a_study_database_planted_as_a_link_is_not_opened(agent: SearchAgent) -> None:
    victim = agent.layout.agent_dir.parent.parent / "outside" / "server.db"
    victim.write_bytes(b"")
    (agent.layout.workspace / "study.db-journal").symlink_to(victim)
    with pytest.raises(UnsafeAgentFile, match="study.db-journal"):
        agent._study()
    assert victim.read_bytes() == b""


def test_a_workspace_that_cannot_be_pushed_is_not_published_and_the_agent_goes_on(agent: SearchAgent) -> None:
    from aarlab.server import SubmissionReceipt

    os.mkfifo(agent.layout.workspace / "pipe")

    class NoServer:
        def push_archive(self, *_: Any, **__: Any) -> None:
            raise AssertionError("nothing may be pushed")

        def push_directory(self, directory: Path, *, parent: str | None = None) -> None:  # the real signature
            from aarlab.client import pack_directory

            pack_directory(directory)
            raise AssertionError("a FIFO was packed")

        def post(self, *_: Any, **__: Any) -> None:
            raise AssertionError("nothing may be posted")

    receipt = SubmissionReceipt.model_construct(public_pgr=0.5, public_transfer_acc=0.7, receipt="r", id="s")
    finishes(lambda: agent.publish(NoServer(), TrialConfig(method="vanilla"), receipt))  # type: ignore[arg-type]
    results = [e for e in _events(agent) if e["type"] == "tool_result" and e["name"] == "snapshot_push"]
    assert results and results[-1]["is_error"] and "pipe" in results[-1]["output"]
