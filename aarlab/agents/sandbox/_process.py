"""Start one process tree under limits, collect bounded output, kill it all at the deadline."""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aarlab.agents.sandbox._base import ExecResult, KilledReason, Mechanism, SandboxError, SandboxLimits
from aarlab.agents.sandbox._cgroups import CgroupPool, CommandCgroups, create_cgroups
from aarlab.agents.sandbox._output import BoundedOutput
from aarlab.agents.sandbox._quota import WorkspaceQuota

#: After the process is gone, how long to keep reading pipes that a straggler may still hold open.
_DRAIN_S = 2.0


@dataclass(frozen=True)
class Plan:
    """How to enforce limits for one command: which cgroups exist and which rlimits the child sets."""

    cgroups: CommandCgroups | None
    rlimits: list[tuple[int, int, int]]
    enforced_by: dict[str, Mechanism]


def plan_limits(limits: SandboxLimits, *, use_cgroups: bool = True, pool: CgroupPool | None = None) -> Plan:
    """Cgroups where this machine allows them (from ``pool`` when given), rlimits otherwise; records which
    mechanism covers each limit.

    RLIMIT_NPROC is not used for pids: it counts every process of the (host) user, not of the sandbox.
    """
    memory_bytes = limits.memory_mb * 1024 * 1024
    cgroups = None
    if use_cgroups:
        cgroups = pool.acquire() if pool is not None else create_cgroups(memory_bytes, limits.pids)
    disk_bytes = limits.disk_mb * 1024 * 1024
    rlimits = [(resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1), (resource.RLIMIT_CORE, 0, 0),
               (resource.RLIMIT_FSIZE, disk_bytes, disk_bytes)]
    # disk_mb: "rlimit" covers single files; run_prepared upgrades it to "supervisor" when it watches a workspace
    enforced: dict[str, Mechanism] = {"wall_s": "supervisor", "cpu_s": "rlimit", "output_bytes": "supervisor",
                                      "disk_mb": "rlimit"}
    if cgroups is not None and cgroups.memory is not None:
        enforced["memory_mb"] = cgroups.mechanism
    else:
        rlimits.append((resource.RLIMIT_AS, memory_bytes, memory_bytes))
        enforced["memory_mb"] = "rlimit"
    enforced["pids"] = cgroups.mechanism if cgroups is not None and cgroups.pids is not None else "none"
    return Plan(cgroups, rlimits, enforced)


#: ``ulimit`` flags of the rlimits a plan sets, and the unit each takes (bytes are given in KiB).
_ULIMIT = {resource.RLIMIT_CPU: ("-t", 1), resource.RLIMIT_CORE: ("-c", 512), resource.RLIMIT_AS: ("-v", 1024),
           resource.RLIMIT_FSIZE: ("-f", 512)}
#: Exit status of the launcher shim when it cannot apply the limits (the command never started).
SHIM_FAILED = 125
SHIM_PREFIX = "aarlab-sandbox:"


def limits_shim(plan: Plan) -> list[str]:
    """``sh -c SCRIPT`` arguments that join the plan's cgroups, lower its rlimits, read the command's file-size
    limit (512-byte blocks, or ``-``) as the first line of stdin and the rest of the command line as the second
    (shell-quoted; ``read`` takes no byte more), and exec the whole command, which reads the rest of stdin.

    The child runs no Python between fork and exec, so ``subprocess`` can use ``vfork``: with ``preexec_fn`` it
    must ``fork``, whose cost grows with the parent's memory (tens of ms in a process that imported torch).
    Dying with the supervisor is bubblewrap's ``--die-with-parent``. Paths go in as arguments, never as text.
    """
    lines = [f'for procs; do [ "$procs" = -- ] && break; {{ echo $$ > "$procs"; }} 2>/dev/null || '
             f'{{ echo "{SHIM_PREFIX} cannot join the cgroup $procs" >&2; exit {SHIM_FAILED}; }}; done',
             'while [ "$1" != -- ]; do shift; done; shift']
    for which, soft, hard in plan.rlimits:
        flag, unit = _ULIMIT[which]
        # soft first: a hard limit below the current (unlimited) soft one is refused
        lines.append(f"ulimit -S {flag} {soft // unit} && ulimit -H {flag} {hard // unit} || "
                     f'{{ echo "{SHIM_PREFIX} cannot set ulimit {flag}" >&2; exit {SHIM_FAILED}; }}')
    lines += ["IFS= read -r fsize || exit 0",
              f'[ "$fsize" = - ] || {{ ulimit -S -f "$fsize" && ulimit -H -f "$fsize"; }} || '
              f'{{ echo "{SHIM_PREFIX} cannot set ulimit -f $fsize" >&2; exit {SHIM_FAILED}; }}',
              "nl='\n'", "IFS= read -r rest || exit 0", 'eval "set -- \\"\\$@\\" $rest"', 'exec "$@"']
    procs = [str(path) for path in (plan.cgroups.procs_files if plan.cgroups else [])]
    return ["/bin/sh", "-c", "\n".join(lines), "aarlab-sandbox", *procs, "--"]


def command_line(args: Sequence[str]) -> str:
    """``args`` as one line of shell words for the shim (a newline inside an argument becomes ``$nl``)."""
    return " ".join(shlex.quote(arg).replace("\n", "'\"$nl\"'") for arg in args)


@dataclass
class Launch:
    """A launcher process already in its command's cgroups with its rlimits lowered, waiting for the rest of its
    command line (:func:`prepare`); :func:`run_prepared` completes and supervises it, :meth:`discard` drops it."""

    proc: subprocess.Popen[bytes]
    plan: Plan
    pool: CgroupPool | None

    def discard(self) -> None:
        """Let the waiting launcher exit without running anything, and give its cgroups back."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # end of file before the command line: the shim exits 0
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            _kill(self.proc, self.plan)
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        _release(self.plan, self.pool)


def prepare(prefix: Sequence[str], *, env: Mapping[str, str], limits: SandboxLimits, pass_fds: Sequence[int] = (),
            cwd: Path | None = None, use_cgroups: bool = True, pool: CgroupPool | None = None) -> Launch:
    """Start the launcher ``prefix`` under ``limits`` up to the point where it waits for the rest of its argv.

    Joining two cgroups costs the kernel an RCU grace period (about 10 ms); a sandbox prepares its next launcher
    while the agent thinks, so a command pays only for bubblewrap itself.
    """
    plan = plan_limits(limits, use_cgroups=use_cgroups, pool=pool)
    try:
        proc = subprocess.Popen(
            [*limits_shim(plan), *prefix], env=dict(env), cwd=cwd, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=tuple(pass_fds), start_new_session=True)
    except (OSError, subprocess.SubprocessError) as err:
        _release(plan, pool)
        raise SandboxError(f"cannot start {prefix[0]}: {err}") from None
    return Launch(proc, plan, pool)


def _release(plan: Plan, pool: CgroupPool | None) -> None:
    if plan.cgroups is not None:
        if pool is not None:
            pool.release(plan.cgroups)
        else:
            plan.cgroups.remove()


def _feed_stdin(pipe: object, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.write(data)  # type: ignore[attr-defined]
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.close()  # type: ignore[attr-defined]


#: The limit behind each kill reason.
_LIMIT_OF: dict[KilledReason, str] = {"wall_time": "wall_s", "memory": "memory_mb", "cpu_time": "cpu_s",
                                      "disk": "disk_mb"}


def _killed_reason(exit_code: int, timed_out: bool, plan: Plan, over_disk: bool = False) -> KilledReason | None:
    if timed_out:
        return "wall_time"
    if over_disk or exit_code == 128 + signal.SIGXFSZ:  # SIGXFSZ: a file reached RLIMIT_FSIZE
        return "disk"
    if plan.cgroups is not None and plan.cgroups.oom_killed():
        return "memory"
    if exit_code == 128 + signal.SIGXCPU:
        return "cpu_time"
    return None


def run_limited(argv: Sequence[str], *, env: Mapping[str, str], timeout_s: float, limits: SandboxLimits,
                stdin: bytes | None = None, pass_fds: Sequence[int] = (), cwd: Path | None = None,
                use_cgroups: bool = True, pool: CgroupPool | None = None,
                quota: WorkspaceQuota | None = None) -> ExecResult:
    """Run ``argv`` (the sandbox launcher plus the command) and wait, enforcing ``limits``.

    On timeout the launcher is SIGKILLed (bubblewrap's ``--die-with-parent`` then takes down its pid namespace)
    and every process left in the command's cgroups is killed too. ``pool`` (whose limits must be ``limits``'
    memory and pids) lends the cgroups and takes them back afterwards instead of creating and removing them.
    """
    launch = prepare(argv, env=env, limits=limits, pass_fds=pass_fds, cwd=cwd, use_cgroups=use_cgroups, pool=pool)
    return run_prepared(launch, [], timeout_s=timeout_s, limits=limits, stdin=stdin, quota=quota)


def run_prepared(launch: Launch, rest: Sequence[str], *, timeout_s: float, limits: SandboxLimits,
                 stdin: bytes | None = None, quota: WorkspaceQuota | None = None) -> ExecResult:
    """Give a prepared launcher the rest of its command line and supervise it as :func:`run_limited` does.

    With ``quota``, the workspace is measured while the command runs; growing past the quota stops it
    (``killed_reason="disk"``, a note on stderr).
    """
    plan, proc = launch.plan, launch.proc
    try:
        if quota is not None:
            quota.start()
        started = time.monotonic()
        # first line: this command's file-size limit (what is left of the quota), in the shell's 512-byte blocks
        fsize = str(quota.file_limit() // 512) if quota is not None else "-"
        line = f"{fsize}\n{command_line(rest)}\n".encode()
        if stdin is None or len(stdin) < 4096:  # fits the pipe buffer: no writer thread needed
            _feed_stdin(proc.stdin, line + (stdin or b""))
        else:
            threading.Thread(target=_feed_stdin, args=(proc.stdin, line + stdin), daemon=True).start()
        out, err_out = BoundedOutput(limits.output_bytes), BoundedOutput(limits.output_bytes)
        try:
            timed_out, over_disk = _collect(proc, {proc.stdout: out, proc.stderr: err_out}, started + timeout_s,
                                            plan, quota)
        except BaseException:  # interrupted (Ctrl-C, a signal turned exception): leave nothing running
            _kill(proc, plan)
            proc.wait()
            raise
        exit_code = proc.wait()
        exit_code = 128 - exit_code if exit_code < 0 else exit_code
        if exit_code == SHIM_FAILED and err_out.text().startswith(SHIM_PREFIX):
            raise SandboxError(f"cannot apply the sandbox's limits: {err_out.text().strip()}")
        duration = time.monotonic() - started
        killed = _killed_reason(exit_code, timed_out, plan, over_disk)
        full = quota.finish(failed=exit_code != 0 and not over_disk) if quota is not None else None
        if over_disk and quota is not None:
            err_out.feed(quota.message().encode())
        elif full is not None:
            err_out.feed(full.encode())
        hit = [name for name, flag in (("pids", plan.cgroups is not None and plan.cgroups.pids_hit()),
                                       ("output_bytes", out.truncated or err_out.truncated),
                                       ("disk_mb", full is not None)) if flag]
        if killed is not None and _LIMIT_OF[killed] not in hit:
            hit.insert(0, _LIMIT_OF[killed])
        enforced = {**plan.enforced_by, **({"disk_mb": "supervisor"} if quota is not None else {})}
        return ExecResult(exit_code=exit_code, stdout=out.text(), stderr=err_out.text(), duration_s=duration,
                          timed_out=timed_out, truncated=out.truncated or err_out.truncated, killed_reason=killed,
                          limits_hit=hit, enforced_by=enforced)
    finally:
        _release(plan, launch.pool)


def _kill(proc: subprocess.Popen[bytes], plan: Plan) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if plan.cgroups is not None:
        plan.cgroups.kill()


def _collect(proc: subprocess.Popen[bytes], sinks: dict[object, BoundedOutput], deadline: float,
             plan: Plan, quota: WorkspaceQuota | None = None) -> tuple[bool, bool]:
    """Read both pipes until EOF; kill everything at ``deadline`` or when ``quota`` (watched in a background
    thread) is exceeded. Returns whether the deadline passed and whether the quota was exceeded."""
    if quota is not None:
        quota.watch(lambda: _kill(proc, plan))
    try:
        timed_out = _read_until_done(proc, sinks, deadline, plan, quota)
    finally:
        over_disk = quota.unwatch() if quota is not None else False
    return timed_out, over_disk


def _read_until_done(proc: subprocess.Popen[bytes], sinks: dict[object, BoundedOutput], deadline: float,
                     plan: Plan, quota: WorkspaceQuota | None) -> bool:
    """The reading loop of :func:`_collect`; returns whether the deadline passed."""
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for pipe in sinks:
            selector.register(pipe, selectors.EVENT_READ)  # type: ignore[arg-type]
        drain_until: float | None = None
        while selector.get_map():
            now = time.monotonic()
            killed = timed_out or (quota is not None and quota.tripped)
            if not killed and now >= deadline:
                timed_out = killed = True
                _kill(proc, plan)
            if drain_until is None and proc.poll() is not None:
                drain_until = now + _DRAIN_S
            limit = deadline if not killed else now + _DRAIN_S
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
