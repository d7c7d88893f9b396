"""Sandboxes for agents' commands: bubblewrap by default, one :class:`Sandbox` interface for others."""

from aarlab.agents.sandbox._base import ExecResult, KilledReason, Mechanism, Sandbox, SandboxError, SandboxLimits
from aarlab.agents.sandbox._bwrap import (
    DATA,
    SCORING_SOCKET,
    WORKSPACE,
    BubblewrapSandbox,
    find_bwrap,
    python_mounts,
    sandbox_python,
)
from aarlab.agents.sandbox._layout import AgentLayout

__all__ = [
    "DATA",
    "SCORING_SOCKET",
    "WORKSPACE",
    "AgentLayout",
    "BubblewrapSandbox",
    "ExecResult",
    "KilledReason",
    "Mechanism",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "find_bwrap",
    "python_mounts",
    "sandbox_python",
]
