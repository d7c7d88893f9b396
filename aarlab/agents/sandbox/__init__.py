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
from aarlab.agents.sandbox._masks import DATA_SOURCES, DataSource, Masks, data_source_masks
from aarlab.agents.sandbox._quota import WorkspaceQuota, workspace_usage

__all__ = [
    "DATA",
    "DATA_SOURCES",
    "SCORING_SOCKET",
    "WORKSPACE",
    "AgentLayout",
    "BubblewrapSandbox",
    "DataSource",
    "ExecResult",
    "KilledReason",
    "Masks",
    "Mechanism",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "WorkspaceQuota",
    "data_source_masks",
    "find_bwrap",
    "python_mounts",
    "sandbox_python",
    "workspace_usage",
]
