"""``python -m aarlab.agents.runtime``: configuration mistakes are one clear line and exit status 2."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from aarlab.agents.runtime._main import main, parser
from aarlab.campaign._state import AgentAssignment


def agent(tmp_path: Path, **fields: object) -> Path:
    state = tmp_path / "c"
    agent_dir = state / "agents" / "a1"
    (agent_dir / "workspace").mkdir(parents=True)
    (agent_dir / "token").write_text("tok\n")
    values: dict[str, object] = {"name": "a1", "kind": "x", "direction": "d", "suite": "tiny",
                                 "home": str(tmp_path), "datasets": ["math"], "seed": 0,
                                 "deadline": time.time() + 60, **fields}
    (agent_dir / "agent.json").write_text(AgentAssignment.model_validate(values).model_dump_json())
    return state


@pytest.mark.parametrize(("fields", "message"), [
    ({"model": "claude-sonnet-4-5"}, "not a provider/model string"),
    ({"model": "anthropic/claude-sonnet-4-5"}, "ANTHROPIC_API_KEY"),
    ({}, "names no model"),
    ({"model": "anthropic/claude-sonnet-4-5", "prices_file": "/nonexistent/prices.toml"}, "does not exist"),
])
def test_a_misconfigured_agent_exits_2_with_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          fields: dict[str, object], message: str) -> None:
    state = agent(tmp_path, **fields)
    assert main(["--state", str(state), "--agent", "a1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    last = json.loads((state / "agents" / "a1" / "transcript.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "state" and last["state"] == "error" and message in last["reason"]


def test_an_unknown_agent_names_the_expected_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state", str(tmp_path), "--agent", "ghost"]) == 2
    assert "no agent 'ghost'" in capsys.readouterr().err


def test_help_shows_an_example() -> None:
    assert "example: python -m aarlab.agents.runtime" in parser().format_help()
