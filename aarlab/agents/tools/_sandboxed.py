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
from typing import TYPE_CHECKING, Any, Protocol

from aarlab.agents.sandbox import WORKSPACE, ExecResult, Sandbox, sandbox_python
from aarlab.agents.tools._base import OUTPUT_CHARS, ToolError, ToolResult, clip
from aarlab.agents.tools._workspace import Workspace

if TYPE_CHECKING:
    from aarlab.cluster._fanout import ExperimentJob, JobResult

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


class Fanout(Protocol):
    """Runs the seeds of one experiment elsewhere, in parallel (a cluster's:
    :class:`aarlab.cluster._ray.RayFanout`)."""

    def run(self, jobs: list[ExperimentJob], workspace: bytes) -> list[JobResult]:
        """One result per job, in order; a job that could not run has ``error`` set."""
        ...


class SandboxedTools:
    """``shell`` and ``w2s_run`` of one agent, run in its sandbox (one instance: its cgroups are reused)."""

    def __init__(self, workspace: Workspace, sandbox: Sandbox, setup: ExperimentSetup, *, agent: str = "agent",
                 fanout: Fanout | None = None) -> None:
        self.workspace = workspace
        self.sandbox = sandbox
        self.setup = setup
        self.agent = agent
        #: Where several seeds of one call run in parallel; None: one after another in this sandbox.
        self.fanout = fanout

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
                overrides: dict[str, Any] | None = None, seeds: list[int] | None = None) -> ToolResult:
        """Run ``method`` label-free in the sandbox, writing ``predictions/<dataset>-<stem>-s<seed>.jsonl``.

        ``seeds``: several seeds in one call (one experiment each); on a cluster they run in parallel as tasks of
        their own (:attr:`fanout`), else one after another in this sandbox.
        """
        if dataset not in self.setup.datasets:
            raise ToolError(f"unknown dataset {dataset!r}; yours: {', '.join(self.setup.datasets)}")
        method_arg, stem = self._method_argument(method)
        runs = _check_seeds(seeds) if seeds else [seed]
        wall = min(self.setup.timeout_s, self._time_left(), self.sandbox.limits.wall_s)
        outs = {s: f"predictions/{dataset}-{_STEM.sub('_', stem)}-s{s}.jsonl" for s in runs}
        (self.workspace.root / "predictions").mkdir(exist_ok=True)
        if self.fanout is not None and len(runs) > 1:
            return self._fan_out(dataset, method, method_arg, runs, outs, lane, overrides or {}, wall)
        results: list[_Run] = []
        for s in runs:
            argv = trial_argv(method=method_arg, suite=self.setup.suite, home=self.setup.home, dataset=dataset,
                              seed=s, overrides=overrides or {}, lane=lane, out=outs[s])
            try:
                left = self._time_left()
            except ToolError:
                if not results:
                    raise
                break  # the campaign's time ran out between seeds: report the ones that ran
            result = self.sandbox.exec(argv, timeout_s=min(wall, left))
            results.append(_describe_run(result, method, dataset, s, lane, wall, outs[s]))
            if not result.ok and len(runs) > 1:
                break  # a failing method fails on the next seed too: say so now
        return _combine(results, runs)

    def _fan_out(self, dataset: str, method: str, method_arg: str, runs: list[int], outs: dict[int, str],
                 lane: str | None, overrides: dict[str, Any], wall: float) -> ToolResult:
        """The seeds as parallel cluster tasks; each task's predictions written back into the workspace."""
        from aarlab.cluster._fanout import ExperimentJob, pack_workspace

        assert self.fanout is not None
        archive, skipped = pack_workspace(self.workspace.root)
        jobs = [ExperimentJob(agent=self.agent, dataset=dataset, method=method_arg, seed=s, out=outs[s], lane=lane,
                              overrides=overrides, timeout_s=wall, memory_mb=self.sandbox.limits.memory_mb)
                for s in runs]
        results = []
        for job, done in zip(jobs, self.fanout.run(jobs, archive), strict=True):
            run = _describe_task(done, method, dataset, lane, wall, job.out)
            if run.ok and done.predictions is not None:
                try:
                    self.workspace.write_text(job.out, done.predictions.decode("utf-8", "replace"),
                                              limit=len(done.predictions) + 1)
                except ToolError as err:
                    run = _Run(False, f"{_header(method, dataset, done.seed, lane)} ran on node {done.node} but "
                                      f"its predictions could not be written back: {err}")
            results.append(run)
        combined = _combine(results, runs)
        if skipped:
            combined.output += ("\n[not shipped to the tasks' copies of the workspace]\n"
                                + clip("\n".join(skipped), OUTPUT_CHARS // 4))
        return combined


def trial_argv(*, method: str, suite: str, home: str, dataset: str, seed: int, overrides: dict[str, Any],
               lane: str | None, out: str) -> list[str]:
    """The trial runner's command line in a sandbox (``out`` relative to ``/workspace``)."""
    argv = [sandbox_python(), "-m", "aarlab.agents.search.trial", "--method", method, "--suite", suite, "--home",
            home, "--dataset", dataset, "--seed", str(seed), "--overrides", json.dumps(overrides),
            "--out", f"{WORKSPACE}/{out}"]
    return argv + (["--lane", lane] if lane is not None else [])


def _check_seeds(seeds: list[int]) -> list[int]:
    from aarlab.cluster._fanout import MAX_SEEDS

    if len(seeds) > MAX_SEEDS:
        raise ToolError(f"{len(seeds)} seeds in one call; at most {MAX_SEEDS} (call again for more)")
    if len(set(seeds)) != len(seeds):
        raise ToolError(f"seeds {seeds} repeat a seed; give distinct seeds")
    return list(seeds)


@dataclass
class _Run:
    ok: bool
    text: str


def _header(method: str, dataset: str, seed: int, lane: str | None) -> str:
    return f"w2s_run {method} on {dataset} (seed {seed}, lane {lane or 'suite default'})"


def _describe_run(result: ExecResult, method: str, dataset: str, seed: int, lane: str | None, wall: float,
                  out: str) -> _Run:
    header = _header(method, dataset, seed, lane)
    if not result.ok:
        if result.killed_reason == "wall_time":
            header += f": stopped after {wall:.0f} s (the experiment time limit)"
        return _Run(False, format_exec(result, header))
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    text = (f"{header}: done in {result.duration_s:.1f} s\npredictions: {WORKSPACE}/{out}\nsummary: {summary}\n"
            f"submit them with submit(dataset={dataset!r}, predictions={out!r}, method=...)")
    if result.stderr.strip():
        text += "\n[log]\n" + clip(result.stderr.strip(), OUTPUT_CHARS // 2)
    return _Run(True, text)


def _describe_task(done: JobResult, method: str, dataset: str, lane: str | None, wall: float, out: str) -> _Run:
    if done.error is not None:
        return _Run(False, f"{_header(method, dataset, done.seed, lane)} on node {done.node or '?'}: not run: "
                           f"{done.error}")
    result = ExecResult(exit_code=done.exit_code, stdout=done.stdout, stderr=done.stderr, duration_s=done.duration_s,
                        killed_reason=done.killed_reason, limits_hit=done.limits_hit)  # type: ignore[arg-type]
    if result.ok and done.predictions is None:
        result = result.model_copy(update={"exit_code": 1, "stderr": result.stderr + "\n(no predictions written)"})
    run = _describe_run(result, method, dataset, done.seed, lane, wall, out)
    run.text = run.text.replace("\n", f" [node {done.node}]\n", 1) if done.node else run.text
    return run


def _combine(results: list[_Run], runs: list[int]) -> ToolResult:
    """One tool result: a single run as it always read; several, one block each and a first line counting them."""
    experiments = len(results)
    if len(runs) == 1:
        return ToolResult(results[0].text, is_error=not results[0].ok, experiment=experiments)
    ok = sum(r.ok for r in results)
    head = f"{ok} of {len(runs)} seeds done" + ("" if experiments == len(runs) else
                                                  f" ({len(runs) - experiments} not started after a failure or "
                                                  "when the campaign's time ran out)")
    return ToolResult("\n\n".join([head, *(r.text for r in results)]), is_error=ok < len(runs),
                      experiment=experiments)
