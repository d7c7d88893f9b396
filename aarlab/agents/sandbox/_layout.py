"""Where a campaign keeps each agent's sandbox inputs: ``DIR/agents/NAME/{workspace,token}``,
``DIR/visible/<dataset>/`` and ``DIR/scoring.sock``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aarlab.agents.sandbox._base import SandboxError, SandboxLimits
from aarlab.agents.sandbox._bwrap import BubblewrapSandbox

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class AgentLayout:
    """One agent's files inside a campaign state dir."""

    state: Path
    name: str

    @property
    def agent_dir(self) -> Path:
        """``DIR/agents/NAME``."""
        return self.state / "agents" / self.name

    @property
    def workspace(self) -> Path:
        """The agent's read-write directory (``/workspace`` in the sandbox)."""
        return self.agent_dir / "workspace"

    @property
    def token_file(self) -> Path:
        """The agent's scoring token (one line)."""
        return self.agent_dir / "token"

    @property
    def visible_data(self) -> Path:
        """Agent-visible dataset copies, one directory per dataset (``/data`` in the sandbox)."""
        return self.state / "visible"

    @property
    def scoring_socket(self) -> Path:
        """The scoring service's Unix socket, shared by the campaign's agents."""
        return self.state / "scoring.sock"

    @classmethod
    def open(cls, state: Path, name: str) -> AgentLayout:
        """The layout of an existing agent; :class:`SandboxError` saying which agents exist when it is not one."""
        if not _NAME.match(name) or name in (".", ".."):
            raise SandboxError(f"agent name {name!r} is not valid: use letters, digits, '_', '.', '-'")
        state = Path(state).expanduser().resolve()
        agents = state / "agents"
        if not agents.is_dir():
            raise SandboxError(f"{state} is not a campaign state dir: {agents} does not exist")
        layout = cls(state, name)
        if not layout.workspace.is_dir():
            existing = sorted(p.name for p in agents.iterdir() if (p / "workspace").is_dir())
            raise SandboxError(f"no agent {name!r} in {state} (no {layout.workspace}); existing agents: "
                               f"{', '.join(existing) or 'none'}")
        return layout

    def read_token(self) -> str | None:
        """The agent's token, or None when it has none (the sandbox then cannot authenticate)."""
        if not self.token_file.is_file():
            return None
        return self.token_file.read_text().strip() or None

    def sandbox(self, limits: SandboxLimits | None = None, extra_ro: Sequence[Path] = ()) -> BubblewrapSandbox:
        """The agent's bubblewrap sandbox, exactly as the campaign runs its commands."""
        return BubblewrapSandbox(
            self.workspace,
            visible_data=self.visible_data if self.visible_data.is_dir() else None,
            scoring_socket=self.scoring_socket if self.scoring_socket.exists() else None,
            token=self.read_token(), limits=limits, extra_ro=extra_ro)
