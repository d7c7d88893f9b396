"""Tools that run inside the agent's sandbox: a shell command, and a label-free W2S experiment.

Both go through the agent's :class:`~aarlab.agents.sandbox.Sandbox` exactly as ``aarlab sandbox exec`` does;
nothing here runs agent-chosen code on the host.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from aarlab.agents.sandbox import WORKSPACE, ExecResult, Sandbox, sandbox_python
from aarlab.agents.tools._base import OUTPUT_CHARS, ToolError, ToolResult, clip
from aarlab.agents.tools._workspace import Workspace

#: Default and largest wall time of one shell command (seconds).
SHELL_TIMEOUT_S = 300.0
_STEM = re.compile(r"[^A-Za-z0-9_.-]+")


def format_exec(result: ExecResult, header: str, limit: int = OUTPUT_CHARS) -> str:
    """Exit code, duration, limits hit, then stdout and stderr, each clipped to half of ``limit``."""
    lines = [header, f"exit code {result.exit_code} · {result.duration_s:.2f} s"]
    if result.killed_reason is not None:
        lines.append(f"killed: {result.killed_reason} limit reached")
    if result.limits_hit:
        lines.append(f"limits hit: {', '.join(result.limits_hit)}")
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text:
            lines += [f"[{name}]", clip(text.rstrip("\n"), limit // 2)]
    if not result.stdout and not result.stderr:
        lines.append("(no output)")
    return "\n".join(lines)


@dataclass
class ExperimentSetup:
    """What ``w2s_run`` needs from the campaign: the suite, its home, the agent's datasets and its deadline."""

    suite: str
    home: str
    datasets: list[str]
    deadline: float
    timeout_s: float


class SandboxedTools:
    """``shell`` and ``w2s_run`` of one agent, run in its sandbox (one instance: its cgroups are reused)."""

    def __init__(self, workspace: Workspace, sandbox: Sandbox, setup: ExperimentSetup) -> None:
        self.workspace = workspace
        self.sandbox = sandbox
        self.setup = setup

    def _time_left(self) -> float:
        left = self.setup.deadline - time.time()
        if left < 1:
            raise ToolError("the campaign's time is up; write your conclusions to the notebook and stop")
        return left

    def shell(self, command: str, timeout_s: float | None = None) -> ToolResult:
        """Run ``bash -c command`` in ``/workspace``; non-zero exit or a limit hit is an error result."""
        wall = min(timeout_s or SHELL_TIMEOUT_S, SHELL_TIMEOUT_S, self._time_left(), self.sandbox.limits.wall_s)
        result = self.sandbox.exec(["bash", "-c", command], timeout_s=wall)
        first = command.strip().splitlines()[0] if command.strip() else ""
        header = f"$ {first[:200]}" + (" ..." if len(first) > 200 or "\n" in command.strip() else "")
        return ToolResult(format_exec(result, header), is_error=not result.ok)

    def _method_argument(self, method: str) -> tuple[str, str]:
        """(what the trial runner gets, a file-name stem) for a built-in name or a workspace ``.py`` path."""
        from aarlab.w2s.methods import builtin_methods

        if method.endswith(".py"):
            host = self.workspace.resolve(method)
            if not host.is_file():
                raise ToolError(f"{method}: no such method file in {WORKSPACE}; write it with write_file first")
            return self.workspace.display(host), PurePosixPath(method).stem
        names = list(builtin_methods())
        if method not in names:
            raise ToolError(f"unknown method {method!r}; give a built-in name ({', '.join(names)}) or a workspace "
                            "path to a .py file declaring one @method (see `aarlab w2s new-method`)")
        return method, method

    def w2s_run(self, dataset: str, method: str, seed: int = 0, lane: str | None = None,
                overrides: dict[str, Any] | None = None) -> ToolResult:
        """Run ``method`` label-free in the sandbox, writing ``predictions/<dataset>-<stem>-s<seed>.jsonl``."""
        if dataset not in self.setup.datasets:
            raise ToolError(f"unknown dataset {dataset!r}; yours: {', '.join(self.setup.datasets)}")
        method_arg, stem = self._method_argument(method)
        wall = min(self.setup.timeout_s, self._time_left(), self.sandbox.limits.wall_s)
        out = f"predictions/{dataset}-{_STEM.sub('_', stem)}-s{seed}.jsonl"
        argv = [sandbox_python(), "-m", "aarlab.agents.search.trial", "--method", method_arg, "--suite",
                self.setup.suite, "--home", self.setup.home, "--dataset", dataset, "--seed", str(seed),
                "--overrides", json.dumps(overrides or {}), "--out", f"{WORKSPACE}/{out}"]
        if lane is not None:
            argv += ["--lane", lane]
        (self.workspace.root / "predictions").mkdir(exist_ok=True)
        result = self.sandbox.exec(argv, timeout_s=wall)
        header = f"w2s_run {method} on {dataset} (seed {seed}, lane {lane or 'suite default'})"
        if not result.ok:
            if result.killed_reason == "wall_time":
                header += f": stopped after {wall:.0f} s (the experiment time limit)"
            return ToolResult(format_exec(result, header), is_error=True, experiment=True)
        summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
        text = (f"{header}: done in {result.duration_s:.1f} s\npredictions: {WORKSPACE}/{out}\nsummary: {summary}\n"
                f"submit them with submit(dataset={dataset!r}, predictions={out!r}, method=...)")
        if result.stderr.strip():
            text += "\n[log]\n" + clip(result.stderr.strip(), OUTPUT_CHARS // 2)
        return ToolResult(text, experiment=True)
