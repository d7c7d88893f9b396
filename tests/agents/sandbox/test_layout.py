"""The campaign's on-disk layout of an agent and the errors when it is not there."""

from pathlib import Path

import pytest

from aarlab.agents.sandbox import AgentLayout, SandboxError


def _campaign(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / "agents" / name / "workspace").mkdir(parents=True)
        (tmp_path / "agents" / name / "token").write_text(f"tok-{name}\n")
    return tmp_path


def test_an_existing_agent_gives_its_workspace_and_token(tmp_path: Path) -> None:
    layout = AgentLayout.open(_campaign(tmp_path, "alice"), "alice")
    assert layout.workspace == tmp_path.resolve() / "agents" / "alice" / "workspace"
    assert layout.read_token() == "tok-alice"


def test_an_unknown_agent_is_refused_with_the_list_of_existing_ones(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="no agent 'carol'.*existing agents: alice, bob"):
        AgentLayout.open(_campaign(tmp_path, "alice", "bob"), "carol")


@pytest.mark.parametrize("name", ["..", "../alice", "a/b", ""])
def test_an_agent_name_cannot_escape_the_agents_dir(tmp_path: Path, name: str) -> None:
    with pytest.raises(SandboxError, match="not valid"):
        AgentLayout.open(_campaign(tmp_path, "alice"), name)


def test_a_dir_without_agents_is_not_a_campaign(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="not a campaign state dir"):
        AgentLayout.open(tmp_path, "alice")
