"""Fixtures: one campaign agent on the tiny suite (visible data, token, workspace) with a real scoring service."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aarlab.agents.tools import AgentToolBox, build_toolbox
from aarlab.campaign._run import ScoringServer, server_settings
from aarlab.campaign._setup import setup_campaign
from aarlab.campaign._state import AgentAssignment
from aarlab.suites import Suite


@dataclass
class AgentEnv:
    """A campaign state dir holding two agents; ``toolbox`` acts as the first."""

    state: Path
    assignment: AgentAssignment
    token: str
    other_token: str
    toolbox: AgentToolBox

    @property
    def workspace(self) -> Path:
        return self.state / "agents" / self.assignment.name / "workspace"


@pytest.fixture(scope="module")
def agent_env(tiny_suite: Suite) -> Iterator[AgentEnv]:
    root = Path(tempfile.mkdtemp(prefix="aart-"))  # short: a Unix socket path is limited to 108 bytes
    state = root / "c"
    info = setup_campaign(state, suite="tiny", home=tiny_suite.home, agents=2, kind="search", minutes=30,
                          concurrency=2, budget=20, trial_timeout_s=120, log=lambda _m: None)
    server = ScoringServer(state, info, server_settings(info.budget))
    server.start()
    try:
        name, other = (a.name for a in info.agents)
        assignment = AgentAssignment.model_validate_json((state / "agents" / name / "agent.json").read_text())
        token = (state / "agents" / name / "token").read_text().strip()
        other_token = (state / "agents" / other / "token").read_text().strip()
        toolbox = build_toolbox(state, assignment, token)
        yield AgentEnv(state, assignment, token, other_token, toolbox)
        toolbox.close()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
