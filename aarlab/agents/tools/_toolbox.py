"""``AgentToolBox``: the tools of one campaign agent, and :func:`build_toolbox` that wires them to its sandbox,
workspace and token."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from aarlab.agents.tools import _args as a
from aarlab.agents.tools._base import ToolError, ToolResult, ToolSpec, clip
from aarlab.agents.tools._sandboxed import SHELL_TIMEOUT_S, ExperimentSetup, Fanout, SandboxedTools
from aarlab.agents.tools._service import ServiceTools
from aarlab.agents.tools._workspace import NOTEBOOK, Workspace

if TYPE_CHECKING:
    from aarlab.agents.sandbox import Sandbox, SandboxLimits
    from aarlab.campaign._state import AgentAssignment


@dataclass(frozen=True)
class _Tool:
    spec: ToolSpec
    args: type[a.Args]
    run: Callable[..., ToolResult]


class AgentToolBox:
    """Every contract tool of one agent. :meth:`call` validates the arguments, runs the tool and turns the
    agent's mistakes (bad arguments, paths outside the workspace, server refusals) into ``is_error`` results."""

    def __init__(self, workspace: Workspace, sandboxed: SandboxedTools, service: ServiceTools) -> None:
        self.workspace = workspace
        self.sandboxed = sandboxed
        self.service = service
        self._tools = {t.spec.name: t for t in self._define()}

    def _define(self) -> list[_Tool]:
        s, svc = self.sandboxed, self.service

        def tool(name: str, description: str, args: type[a.Args], run: Callable[..., ToolResult]) -> _Tool:
            return _Tool(ToolSpec(name, description, a.schema_of(args)), args, run)

        return [
            tool("shell", "Run a bash command in /workspace inside your sandbox (no network, no labels; /data holds "
                 "your datasets without labels). Returns exit code, duration and output (long output is cut in "
                 "the middle).", a.ShellArgs, s.shell),
            tool("read_file", "Read a text file of your workspace, with line numbers.", a.ReadFileArgs,
                 self._read_file),
            tool("write_file", "Create or replace a text file in your workspace (directories are created).",
                 a.WriteFileArgs, self._write_file),
            tool("edit_file", "Replace one exact, unique occurrence of `old` by `new` in a workspace file.",
                 a.EditFileArgs, self._edit_file),
            tool("w2s_run", "Run a W2S method label-free in your sandbox on one dataset and write its test "
                 "predictions to predictions/<dataset>-<method>-s<seed>.jsonl. Counts as one experiment per seed "
                 "(`seeds` runs several in one call, in parallel on a cluster).",
                 a.W2sRunArgs, s.w2s_run),
            tool("submit", "Submit a predictions file to the scoring service; returns the receipt with rounded "
                 "public accuracy and PGR. Uses one evaluation of your budget.", a.SubmitArgs, svc.submit),
            tool("leaderboard", "The leaderboard: best stored public score per agent, method and dataset.",
                 a.NoArgs, svc.leaderboard),
            tool("forum_search", "Search the shared forum (all words must match); one line per post.",
                 a.ForumSearchArgs, svc.forum_search),
            tool("forum_read", "Read a forum post with its replies.", a.ForumReadArgs, svc.forum_read),
            tool("forum_post", "Post on the forum. A 'result' must cite your submission (receipt) and a snapshot "
                 "of your code.", a.ForumPostArgs, svc.forum_post),
            tool("forum_reply", "Reply in a forum thread.", a.ForumReplyArgs, svc.forum_reply),
            tool("forum_vote", "Vote on a forum post (+1, -1, or 0 to withdraw).", a.ForumVoteArgs, svc.forum_vote),
            tool("snapshot_push", "Push a workspace directory to the shared code store; returns its snapshot id.",
                 a.SnapshotPushArgs, svc.snapshot_push),
            tool("snapshot_pull", "Extract a snapshot (yours or another agent's) into a workspace directory.",
                 a.SnapshotPullArgs, svc.snapshot_pull),
            tool("notebook_read", f"Read your notebook ({NOTEBOOK}): notes that survive context resets.",
                 a.NoArgs, self._notebook_read),
            tool("notebook_write", f"Append to (default) or replace your notebook ({NOTEBOOK}). Keep it short: "
                 "findings, open questions, next steps.", a.NotebookWriteArgs, self._notebook_write),
        ]

    # -- the ToolBox protocol -----------------------------------------------------------------------------
    def specs(self) -> list[ToolSpec]:
        """Every tool, in a fixed order."""
        return [t.spec for t in self._tools.values()]

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one call; never raises for the agent's mistakes (unknown tool, bad arguments, refusals)."""
        from aarlab.client import PredictionsFileError, ScoringError
        from aarlab.w2s.methods import MethodError

        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(f"unknown tool {name!r}; tools: {', '.join(self._tools)}", is_error=True)
        try:
            args = tool.args.model_validate(arguments if isinstance(arguments, dict) else {})
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                                 for e in err.errors())
            return ToolResult(f"invalid arguments for {name}: {problems}", is_error=True)
        try:
            return tool.run(**args.model_dump(exclude_unset=False))
        except ToolError as err:
            return ToolResult(str(err), is_error=True)
        except ScoringError as err:
            return ToolResult(f"the scoring service refused: {err.message} (HTTP {err.status})"
                              if err.status else f"the scoring service is unreachable: {err.message}", is_error=True)
        except (PredictionsFileError, MethodError) as err:
            return ToolResult(str(err), is_error=True)
        except OSError as err:  # e.g. a path component that is a file, a full disk: said in the agent's terms
            where = str(err.filename).replace(str(self.workspace.root), "/workspace") if err.filename else name
            return ToolResult(f"{where}: {err.strerror or err}", is_error=True)

    def notebook(self) -> str:
        """The notebook's text ("" when there is none)."""
        return self.workspace.notebook()

    def close(self) -> None:
        """Release the scoring-service connection."""
        self.service.close()

    # -- file tools ---------------------------------------------------------------------------------------
    def _read_file(self, path: str, start_line: int = 1, max_lines: int | None = None) -> ToolResult:
        lines = self.workspace.read_text(path).splitlines()
        if lines and start_line > len(lines):
            raise ToolError(f"{path} has {len(lines)} lines; start_line {start_line} is past the end")
        end = len(lines) if max_lines is None else min(len(lines), start_line - 1 + max_lines)
        shown = [f"{n:>6}  {line}" for n, line in enumerate(lines[start_line - 1:end], start=start_line)]
        note = f"\n[lines {start_line}-{end} of {len(lines)}]" if (start_line > 1 or end < len(lines)) else ""
        return ToolResult(clip("\n".join(shown) or "(empty file)") + note)

    def _write_file(self, path: str, content: str) -> ToolResult:
        host = self.workspace.write_text(path, content)
        return ToolResult(f"wrote {self.workspace.display(host)} ({len(content.encode())} bytes, "
                          f"{content.count(chr(10)) + (1 if content and not content.endswith(chr(10)) else 0)} lines)")

    def _edit_file(self, path: str, old: str, new: str) -> ToolResult:
        line = self.workspace.edit(path, old, new)
        return ToolResult(f"edited {self.workspace.display(self.workspace.resolve(path))} at line {line}")

    def _notebook_read(self) -> ToolResult:
        text = self.workspace.notebook()
        return ToolResult(text if text else f"(your notebook {NOTEBOOK} is empty; write to it with notebook_write)")

    def _notebook_write(self, content: str, mode: str = "append") -> ToolResult:
        size = self.workspace.write_notebook(content, append=mode == "append")
        return ToolResult(f"notebook {'extended' if mode == 'append' else 'replaced'}: {size} bytes")


def build_toolbox(state: Path, assignment: AgentAssignment, token: str, *,
                  limits: SandboxLimits | None = None, sandbox: Sandbox | None = None) -> AgentToolBox:
    """The tools of campaign agent ``assignment.name`` in campaign dir ``state``, acting with ``token``.

    Commands run in the agent's bubblewrap sandbox exactly as ``aarlab sandbox exec`` runs them, with the suite's
    ``models/`` mounted read-only (its ``data/`` and cache, which hold labels, stay out). ``limits`` default to
    :class:`SandboxLimits` with a wall time covering the longest tool call (each call passes its own timeout);
    ``sandbox`` replaces the bubblewrap sandbox (e.g. another implementation of :class:`Sandbox`).
    """
    from aarlab.agents.sandbox import AgentLayout, SandboxLimits

    layout = AgentLayout.open(state, assignment.name)
    if sandbox is None:
        from aarlab.suites import load_suite

        models = load_suite(assignment.suite, Path(assignment.home)).root / "models"
        wall = max(SHELL_TIMEOUT_S, assignment.trial_timeout_s)
        sandbox = layout.sandbox(limits or SandboxLimits(wall_s=wall), extra_ro=[models] if models.is_dir() else [])
    workspace = Workspace(layout.workspace)
    setup = ExperimentSetup(suite=assignment.suite, home=assignment.home, datasets=list(assignment.datasets),
                            deadline=assignment.deadline, timeout_s=assignment.trial_timeout_s)
    service = ServiceTools(workspace, f"unix://{layout.scoring_socket}", token)
    return AgentToolBox(workspace, SandboxedTools(workspace, sandbox, setup, agent=assignment.name,
                                                  fanout=fanout_from_env()), service)


def fanout_from_env() -> Fanout | None:
    """The cluster's fan-out when a cluster campaign started this agent (``$AARLAB_FANOUT``), else None."""
    from aarlab.cluster._fanout import FANOUT_ENV, FanoutSpec

    value = os.environ.get(FANOUT_ENV)
    if not value:
        return None
    from aarlab.cluster._ray import RayFanout

    return RayFanout(FanoutSpec.from_env(value))
