"""Per-command cgroups for memory and pids limits (cgroup v1 or v2), created under a dedicated ``aarlab-sandbox``
parent inside the cgroup this process already lives in. Anything not writable here is reported as unavailable,
and the caller falls back to rlimits."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aarlab.agents.sandbox._base import Mechanism

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT_NAME = "aarlab-sandbox"


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """Controller (or ``""`` for the v2 hierarchy) -> this process's cgroup path, from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _counter(path: Path, key: str) -> int:
    """``key N`` from a flat keyed file such as memory.events or pids.events (0 when absent)."""
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


@dataclass
class CommandCgroups:
    """The cgroups one command runs in (one per controller on v1, one in all on v2)."""

    version: int
    memory: Path | None = None
    pids: Path | None = None
    procs_files: list[Path] = field(default_factory=list)
    #: Event counts when the current command started (a reused group keeps counting across commands).
    oom_base: int = 0
    pids_base: int = 0

    @property
    def mechanism(self) -> Mechanism:
        """``cgroup-v1`` or ``cgroup-v2``."""
        return "cgroup-v1" if self.version == 1 else "cgroup-v2"

    def oom_killed(self) -> bool:
        """The kernel killed a process of this cgroup for exceeding the memory limit."""
        return self._oom_kills() > self.oom_base

    def pids_hit(self) -> bool:
        """A fork or clone was refused because the pids limit was reached."""
        return self._pids_refused() > self.pids_base

    def _oom_kills(self) -> int:
        if self.memory is None:
            return 0
        if self.version == 2:
            return _counter(self.memory / "memory.events", "oom_kill")
        return _counter(self.memory / "memory.oom_control", "oom_kill")

    def _pids_refused(self) -> int:
        return 0 if self.pids is None else _counter(self.pids / "pids.events", "max")

    def start_command(self) -> None:
        """Take the event counters as the baseline of the command about to run."""
        self.oom_base = self._oom_kills()
        self.pids_base = self._pids_refused()

    def kill(self) -> None:
        """SIGKILL every process still in these cgroups."""
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), 9)

    def remove(self, wait_s: float = 2.0) -> None:
        """Kill what is left and delete the cgroups (dying processes get up to ``wait_s`` to leave)."""
        deadline = time.monotonic() + wait_s
        for directory in {p.parent for p in self.procs_files}:
            while True:
                self.kill()
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break  # left behind; swept by the next create()
                    time.sleep(0.005)


def _group_name() -> str:
    """``<our pid>-<random>``: the pid tells :func:`_sweep` whether the group's creator is gone."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(parent: Path) -> None:
    """Remove empty cgroups left behind by processes that have exited (never those of a live creator, whose
    fresh groups are still empty while their command starts)."""
    with contextlib.suppress(OSError):
        for child in parent.iterdir():
            creator = child.name.split("-", 1)[0]
            if child.is_dir() and creator.isdigit() and not _alive(int(creator)):
                with contextlib.suppress(OSError):
                    child.rmdir()


def _v1_group(controller: str, own: dict[str, str], name: str) -> Path | None:
    base = CGROUP_ROOT / controller
    if controller not in own or not (base / "cgroup.procs").exists():
        return None
    parent = base / own[controller].lstrip("/") / PARENT_NAME
    try:
        parent.mkdir(exist_ok=True)
        _sweep(parent)
        group = parent / name
        group.mkdir()
    except OSError:
        return None
    return group


def create_v1(memory_bytes: int, pids: int, proc_cgroup: str) -> CommandCgroups | None:
    """Memory and pids cgroups on a v1 hierarchy, or None when neither can be created."""
    own, name = _own_paths(proc_cgroup), _group_name()
    result = CommandCgroups(version=1)
    memory = _v1_group("memory", own, name)
    if memory is not None:
        try:
            _write(memory / "memory.limit_in_bytes", str(memory_bytes))
            with contextlib.suppress(OSError):  # absent without swap accounting
                _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
            result.memory = memory
            result.procs_files.append(memory / "cgroup.procs")
        except OSError:
            memory.rmdir()
    group = _v1_group("pids", own, name)
    if group is not None:
        try:
            _write(group / "pids.max", str(pids))
            result.pids = group
            result.procs_files.append(group / "cgroup.procs")
        except OSError:
            group.rmdir()
    return result if result.procs_files else None


def create_v2(memory_bytes: int, pids: int, proc_cgroup: str) -> CommandCgroups | None:
    """One cgroup with memory.max and pids.max on a pure v2 hierarchy, or None when that is not allowed here.

    Because of the v2 "no internal processes" rule this works only where our own cgroup may delegate controllers
    to a child (e.g. a systemd unit with Delegate=yes, or the root cgroup of a container).
    """
    own = _own_paths(proc_cgroup).get("")
    if own is None:
        return None
    base = CGROUP_ROOT / own.lstrip("/")
    parent = base / PARENT_NAME
    try:
        parent.mkdir(exist_ok=True)
        _write(base / "cgroup.subtree_control", "+memory +pids")
        _write(parent / "cgroup.subtree_control", "+memory +pids")
        _sweep(parent)
        group = parent / _group_name()
        group.mkdir()
    except OSError:
        return None
    try:
        _write(group / "memory.max", str(memory_bytes))
        with contextlib.suppress(OSError):
            _write(group / "memory.swap.max", "0")
        _write(group / "pids.max", str(pids))
    except OSError:
        group.rmdir()
        return None
    return CommandCgroups(version=2, memory=group, pids=group, procs_files=[group / "cgroup.procs"])


def create_cgroups(memory_bytes: int, pids: int) -> CommandCgroups | None:
    """Cgroups for one command on this machine's hierarchy, or None when none can be created (no rights, no fs)."""
    try:
        proc_cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return create_v2(memory_bytes, pids, proc_cgroup)
    return create_v1(memory_bytes, pids, proc_cgroup)


class CgroupPool:
    """The cgroups of one sandbox, created once and reused by its commands (one command at a time each).

    Creating and removing a group per command costs a few milliseconds, mostly waiting for the kernel to let
    ``rmdir`` succeed after the last process of a pid namespace is gone. A reused group has the same limits and
    holds nothing of a previous command: every process left in it is killed when a command ends.
    """

    def __init__(self, memory_bytes: int, pids: int, keep: int = 2) -> None:
        self.memory_bytes = memory_bytes
        self.pids = pids
        self.keep = keep
        self._free: list[CommandCgroups] = []
        self._lock = threading.Lock()

    def acquire(self) -> CommandCgroups | None:
        """A group for one command (a free one, else a new one), or None where cgroups are unavailable."""
        with self._lock:
            group = self._free.pop() if self._free else None
        group = group or create_cgroups(self.memory_bytes, self.pids)
        if group is not None:
            group.start_command()
        return group

    def release(self, group: CommandCgroups) -> None:
        """Kill what is left of a command and keep its group for the next one (or remove it)."""
        group.kill()
        with self._lock:
            if len(self._free) < self.keep and all(p.exists() for p in group.procs_files):
                self._free.append(group)
                return
        group.remove()

    def close(self) -> None:
        """Remove every kept group."""
        with self._lock:
            groups, self._free = self._free, []
        for group in groups:
            group.remove()
