"""``aarlab sandbox exec``: runs a command as the agent, passes its exit code, explains a wrong agent."""

from pathlib import Path

from typer.testing import CliRunner

from aarlab.cli import app
from tests.agents.sandbox.conftest import needs_bwrap


def _campaign(tmp_path: Path) -> Path:
    (tmp_path / "agents" / "alice" / "workspace").mkdir(parents=True)
    (tmp_path / "agents" / "alice" / "token").write_text("tok-alice\n")
    return tmp_path


@needs_bwrap
def test_exec_runs_in_the_agents_workspace_with_its_token_and_returns_its_exit_code(tmp_path: Path) -> None:
    state = _campaign(tmp_path)
    result = CliRunner().invoke(app, ["sandbox", "exec", "--state", str(state), "--agent", "alice", "--",
                                      "sh", "-c", "echo $AARLAB_TOKEN $PWD > seen; cat seen; exit 3"])
    assert result.exit_code == 3
    assert "tok-alice /workspace" in result.output
    assert (state / "agents" / "alice" / "workspace" / "seen").exists()


def test_exec_for_an_unknown_agent_fails_with_one_line_naming_the_existing_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sandbox", "exec", "--state", str(_campaign(tmp_path)), "--agent", "bob",
                                      "--", "true"])
    assert result.exit_code == 2
    assert "existing agents: alice" in result.output and "Traceback" not in result.output
