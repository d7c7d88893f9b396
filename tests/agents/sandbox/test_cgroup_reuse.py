"""A sandbox reuses its cgroups across commands: limits hold for every command, and neither a limit hit nor a
process of one command carries over to the next."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from aarlab.agents.sandbox import BubblewrapSandbox, SandboxLimits
from tests.agents.sandbox.conftest import needs_bwrap

pytestmark = needs_bwrap
Make = Callable[..., BubblewrapSandbox]
FORK_BOMB = ("import os, time\nn = 0\ntry:\n    for _ in range(200):\n        if os.fork() == 0:\n"
             "            time.sleep(60); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)")


def test_the_pids_limit_holds_for_each_command_and_its_hit_is_reported_only_for_that_command(
        make_sandbox: Make) -> None:
    sandbox = make_sandbox(SandboxLimits(pids=20, wall_s=120))
    first = sandbox.exec(["python", "-c", FORK_BOMB])
    if first.enforced_by["pids"] == "none":
        pytest.skip("no writable pids cgroup on this machine: the pids limit is not enforced here")
    assert "pids" in first.limits_hit and int(first.stdout) < 20
    calm = sandbox.exec(["true"])
    assert calm.ok and calm.limits_hit == []
    again = sandbox.exec(["python", "-c", FORK_BOMB])
    assert "pids" in again.limits_hit and int(again.stdout) < 20  # the first bomb's children are all gone


def test_a_memory_kill_is_reported_only_for_the_command_that_caused_it(make_sandbox: Make) -> None:
    sandbox = make_sandbox(SandboxLimits(memory_mb=200, wall_s=120))
    bomb = ["python", "-c", "b = b'x' * (800 << 20); print('ALIVE')"]
    first = sandbox.exec(bomb)
    if first.enforced_by["memory_mb"] == "rlimit":
        pytest.skip("no writable memory cgroup on this machine")
    assert first.killed_reason == "memory"
    calm = sandbox.exec(["python", "-c", "b = b'x' * (50 << 20); print('ok')"])
    assert calm.ok and calm.killed_reason is None and calm.stdout.strip() == "ok"
    assert sandbox.exec(bomb).killed_reason == "memory"


def test_nothing_a_command_leaves_running_stays_in_the_reused_cgroups(make_sandbox: Make) -> None:
    sandbox = make_sandbox(SandboxLimits(wall_s=60))
    # a straggler in a new session that outlives the command's main process
    result = sandbox.exec(["sh", "-c", "setsid sh -c 'sleep 300' >/dev/null 2>&1 < /dev/null & echo started"])
    if result.enforced_by["pids"] == "none":
        pytest.skip("no writable cgroup on this machine")
    deadline = time.monotonic() + 5
    while (spare := sandbox._spares._spare) is None:  # the next launcher, prepared in the reused cgroups
        assert time.monotonic() < deadline, "no launcher was prepared after the command"
        time.sleep(0.01)
    groups = [*sandbox._spares.pool._free, spare.launch.plan.cgroups]
    allowed = {str(spare.launch.proc.pid)}  # the waiting launcher itself
    while any(set(path.read_text().split()) - allowed for group in groups if group for path in group.procs_files):
        assert time.monotonic() < deadline, "a process of the finished command is still in its cgroup"
        time.sleep(0.05)
    assert sandbox.exec(["true"]).ok


def test_a_sandbox_prepares_its_next_launcher_and_close_stops_it(make_sandbox: Make) -> None:
    sandbox = make_sandbox(SandboxLimits(wall_s=60))
    assert sandbox.exec(["true"]).ok
    deadline = time.monotonic() + 5
    while sandbox._spares._spare is None:
        assert time.monotonic() < deadline, "no launcher was prepared after the command"
        time.sleep(0.01)
    launcher = sandbox._spares._spare.launch.proc
    assert launcher.poll() is None  # waiting for its command line
    result = sandbox.exec(["sh", "-c", "printf '%s|%s' \"$1\" \"$2\"", "sh", "multi\nline 'quoted'", "$HOME `x`"])
    assert result.stdout == "multi\nline 'quoted'|$HOME `x`"
    assert launcher.poll() == 0  # that launcher ran this command
    sandbox.close()
    assert sandbox._spares._spare is None
