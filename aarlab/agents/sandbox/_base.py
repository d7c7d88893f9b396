"""The sandbox interface: what running one agent command promises, whatever isolates it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KilledReason = Literal["wall_time", "memory", "cpu_time", "disk"]
#: How a limit was enforced: a cgroup (v1 or v2), a per-process rlimit, the supervising process (kill at the
#: deadline, truncation), or not at all.
Mechanism = Literal["cgroup-v1", "cgroup-v2", "rlimit", "supervisor", "none"]


class SandboxError(RuntimeError):
    """The sandbox cannot be set up or started (e.g. bubblewrap missing); the agent's command did not run.

    This is a problem for whoever runs the campaign, not something the agent can fix.
    """


class SandboxLimits(BaseModel):
    """Resource limits of one command. Memory and pids cover the whole process tree; CPU time is per process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wall_s: float = Field(600.0, gt=0, description="Wall-clock seconds before the whole sandbox is killed")
    memory_mb: int = Field(8192, gt=0, description="Memory of the whole process tree (RSS + page cache; cgroup)")
    pids: int = Field(512, gt=0, description="Processes + threads alive at once in the sandbox")
    cpu_s: int = Field(3600, gt=0, description="CPU seconds of each process (RLIMIT_CPU: SIGXCPU, then SIGKILL)")
    output_bytes: int = Field(1_000_000, gt=0, description="Bytes kept of stdout and of stderr each (head + tail)")
    disk_mb: int = Field(1024, gt=0, description="Disk the workspace may take (MiB; the command is stopped past it), "
                                                 "also the largest file and the size of /tmp")


class ExecResult(BaseModel):
    """What one command did. ``exit_code`` is the command's status; 128+N when signal N ended it."""

    model_config = ConfigDict(extra="forbid")

    exit_code: int
    stdout: str = Field(description="Decoded as UTF-8 (invalid bytes replaced); head + tail when truncated")
    stderr: str
    duration_s: float
    timed_out: bool = False
    truncated: bool = Field(False, description="stdout or stderr exceeded output_bytes; the middle was dropped")
    killed_reason: KilledReason | None = None
    limits_hit: list[str] = Field(default_factory=list, description="Limits reached, e.g. 'pids' (fork refused)")
    enforced_by: dict[str, Mechanism] = Field(default_factory=dict,
                                               description="Which mechanism enforced each limit in this run")

    @property
    def ok(self) -> bool:
        """The command exited 0 and no limit killed it."""
        return self.exit_code == 0 and self.killed_reason is None


class Sandbox(ABC):
    """Runs commands in an isolated environment: one workspace, limits, no network but the scoring service.

    Implementations: :class:`~aarlab.agents.sandbox.BubblewrapSandbox` (default). Docker / Kubernetes sandboxes
    implement this same class.
    """

    limits: SandboxLimits

    @abstractmethod
    def exec(self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: bytes | str | None = None,
             env: Mapping[str, str] | None = None) -> ExecResult:
        """Run ``argv`` (no shell) in the sandbox's workspace and wait for it.

        Timeouts: ``timeout_s`` (default and upper bound: ``limits.wall_s``) is wall-clock time; when it passes,
        every process of the sandbox is killed and the result has ``timed_out=True``,
        ``killed_reason="wall_time"`` and exit code 137. Exceeding memory or CPU time also ends in a result
        (``killed_reason``), never an exception. Running out of pids makes ``fork`` fail inside the sandbox
        (``limits_hit`` holds ``"pids"``).

        Output limits: stdout and stderr are each kept up to ``limits.output_bytes``; beyond that the first and
        last halves are kept, a line ``[... N bytes truncated ...]`` marks the cut and ``truncated`` is set.

        ``env`` adds variables to the sandbox's minimal environment (it cannot remove the fixed ones).

        Raises:
            SandboxError: the sandbox could not be started (missing tool, unusable mount, bad argument).
            ValueError: ``argv`` is empty or ``timeout_s`` is not positive.
        """
