"""Start one process tree under limits, collect bounded output, kill it all at the deadline."""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aarlab.agents.sandbox._base import ExecResult, KilledReason, Mechanism, SandboxError, SandboxLimits
from aarlab.agents.sandbox._cgroups import CommandCgroups, create_cgroups
from aarlab.agents.sandbox._output import BoundedOutput

#: After the process is gone, how long to keep reading pipes that a straggler may still hold open.
_DRAIN_S = 2.0


@dataclass(frozen=True)
class Plan:
    """How to enforce limits for one command: which cgroups exist and which rlimits the child sets."""

    cgroups: CommandCgroups | None
    rlimits: list[tuple[int, int, int]]
    enforced_by: dict[str, Mechanism]


def plan_limits(limits: SandboxLimits, *, use_cgroups: bool = True) -> Plan:
    """Cgroups where this machine allows them, rlimits otherwise; records which mechanism covers each limit.

    RLIMIT_NPROC is not used for pids: it counts every process of the (host) user, not of the sandbox.
    """
    memory_bytes = limits.memory_mb * 1024 * 1024
    cgroups = create_cgroups(memory_bytes, limits.pids) if use_cgroups else None
    rlimits = [(resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1), (resource.RLIMIT_CORE, 0, 0)]
    enforced: dict[str, Mechanism] = {"wall_s": "supervisor", "cpu_s": "rlimit", "output_bytes": "supervisor"}
    if cgroups is not None and cgroups.memory is not None:
        enforced["memory_mb"] = cgroups.mechanism
    else:
        rlimits.append((resource.RLIMIT_AS, memory_bytes, memory_bytes))
        enforced["memory_mb"] = "rlimit"
    enforced["pids"] = cgroups.mechanism if cgroups is not None and cgroups.pids is not None else "none"
    return Plan(cgroups, rlimits, enforced)


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _preexec(plan: Plan, procs_fds: list[int]) -> Callable[[], None]:
    """Runs in the child between fork and exec: die with the supervisor, join the cgroups, then lower the
    rlimits (async-signal-light: only system calls on descriptors opened by the parent)."""

    def setup() -> None:
        # If the supervising process dies mid-command, the launcher (and with it the sandbox) dies too.
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        pid = str(os.getpid()).encode()
        for fd in procs_fds:
            os.write(fd, pid)
        for which, soft, hard in plan.rlimits:
            resource.setrlimit(which, (soft, hard))

    return setup


def _feed_stdin(pipe: object, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.write(data)  # type: ignore[attr-defined]
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.close()  # type: ignore[attr-defined]


def _killed_reason(exit_code: int, timed_out: bool, plan: Plan) -> KilledReason | None:
    if timed_out:
        return "wall_time"
    if plan.cgroups is not None and plan.cgroups.oom_killed():
        return "memory"
    if exit_code == 128 + signal.SIGXCPU:
        return "cpu_time"
    return None


def run_limited(argv: Sequence[str], *, env: Mapping[str, str], timeout_s: float, limits: SandboxLimits,
                stdin: bytes | None = None, pass_fds: Sequence[int] = (), cwd: Path | None = None,
                use_cgroups: bool = True) -> ExecResult:
    """Run ``argv`` (the sandbox launcher plus the command) and wait, enforcing ``limits``.

    On timeout the launcher is SIGKILLed (bubblewrap's ``--die-with-parent`` then takes down its pid namespace)
    and every process left in the command's cgroups is killed too.
    """
    plan = plan_limits(limits, use_cgroups=use_cgroups)
    procs_fds: list[int] = []
    try:
        for path in plan.cgroups.procs_files if plan.cgroups else []:
            procs_fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(argv), env=dict(env), cwd=cwd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=tuple(pass_fds),
                preexec_fn=_preexec(plan, procs_fds), start_new_session=True)
        except (OSError, subprocess.SubprocessError) as err:
            raise SandboxError(f"cannot start {argv[0]}: {err}") from None
        finally:
            for fd in procs_fds:
                os.close(fd)
            procs_fds = []
        if stdin is not None:
            threading.Thread(target=_feed_stdin, args=(proc.stdin, stdin), daemon=True).start()
        out, err_out = BoundedOutput(limits.output_bytes), BoundedOutput(limits.output_bytes)
        try:
            timed_out = _collect(proc, {proc.stdout: out, proc.stderr: err_out}, started + timeout_s, plan)
        except BaseException:  # interrupted (Ctrl-C, a signal turned exception): leave nothing running
            _kill(proc, plan)
            proc.wait()
            raise
        exit_code = proc.wait()
        exit_code = 128 - exit_code if exit_code < 0 else exit_code
        duration = time.monotonic() - started
        killed = _killed_reason(exit_code, timed_out, plan)
        hit = [name for name, flag in (("pids", plan.cgroups is not None and plan.cgroups.pids_hit()),
                                       ("output_bytes", out.truncated or err_out.truncated)) if flag]
        if killed is not None:
            hit.insert(0, {"wall_time": "wall_s", "memory": "memory_mb", "cpu_time": "cpu_s"}[killed])
        return ExecResult(exit_code=exit_code, stdout=out.text(), stderr=err_out.text(), duration_s=duration,
                          timed_out=timed_out, truncated=out.truncated or err_out.truncated, killed_reason=killed,
                          limits_hit=hit, enforced_by=plan.enforced_by)
    finally:
        for fd in procs_fds:
            os.close(fd)
        if plan.cgroups is not None:
            plan.cgroups.remove()


def _kill(proc: subprocess.Popen[bytes], plan: Plan) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if plan.cgroups is not None:
        plan.cgroups.kill()


def _collect(proc: subprocess.Popen[bytes], sinks: dict[object, BoundedOutput], deadline: float,
             plan: Plan) -> bool:
    """Read both pipes until EOF; kill everything at ``deadline``. Returns whether the deadline passed."""
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for pipe in sinks:
            selector.register(pipe, selectors.EVENT_READ)  # type: ignore[arg-type]
        drain_until: float | None = None
        while selector.get_map():
            now = time.monotonic()
            if not timed_out and now >= deadline:
                timed_out = True
                _kill(proc, plan)
            if drain_until is None and proc.poll() is not None:
                drain_until = now + _DRAIN_S
            limit = deadline if not timed_out else now + _DRAIN_S
            if drain_until is not None:
                limit = min(limit, drain_until)
            if drain_until is not None and now >= drain_until:
                break  # a straggler holds a pipe open after the launcher exited
            for key, _ in selector.select(timeout=max(0.0, min(limit - now, 0.5))):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    sinks[key.fileobj].feed(chunk)
                else:
                    selector.unregister(key.fileobj)
    for pipe in sinks:
        pipe.close()  # type: ignore[attr-defined]
    if drain_until is not None and not timed_out and proc.poll() is None:
        _kill(proc, plan)
    return timed_out
