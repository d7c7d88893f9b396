"""The workspace disk quota: the supervisor measures the workspace while a command runs and stops the command
when it grows past the quota; RLIMIT_FSIZE (set by the launcher) bounds each file on its own."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Every file, directory or link counts at least this much (one block), so a million empty files hit the quota too.
MIN_ENTRY_BYTES = 4096
#: Seconds between two measurements at least; a slow measurement (a huge tree) spaces them further.
INTERVAL_S = 0.02
#: ... but never more than this apart.
MAX_INTERVAL_S = 1.0
#: Smallest per-file limit given to a command whose workspace is (nearly) full, so small temporary files still work.
MIN_FILE_BYTES = 64 * 1024
#: The command is also stopped when the workspace's file system falls under this much free space while it grows
#: (writes the walk cannot see, e.g. into files deleted while held open).
HOST_FREE_FLOOR_BYTES = 512 * 1024 * 1024


def workspace_usage(root: Path) -> int:
    """Bytes the tree under ``root`` takes on disk: allocated blocks (``st_blocks``), at least
    :data:`MIN_ENTRY_BYTES` per entry, hard links once; never follows a link or leaves the file system.

    A directory the host user cannot list (the agent may ``chmod 000`` its own) is made listable first: the
    sandbox user is the host user, so it owns it.
    """
    try:
        top = os.lstat(root)
    except OSError:  # removed (e.g. a throw-away workspace after its last command): nothing on disk
        return 0
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(root)]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except PermissionError:
            try:
                os.chmod(directory, stat.S_IMODE(os.lstat(directory).st_mode) | stat.S_IRWXU)
                entries = list(os.scandir(directory))
            except OSError:
                continue
        except OSError:  # removed meanwhile
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_dev != top.st_dev:
                continue
            if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += max(info.st_blocks * 512, MIN_ENTRY_BYTES)
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
    return total


def _free_bytes(path: Path) -> int:
    try:
        info = os.statvfs(path)
    except OSError:
        return 2**63  # removed: nothing to protect
    return info.f_bavail * info.f_frsize


@dataclass
class WorkspaceQuota:
    """Watches one workspace across its sandbox's commands: :meth:`start`, :meth:`watch` ... :meth:`unwatch`,
    :meth:`finish`.

    A command is stopped only when the workspace is over the quota *and* larger than when the command started, so
    an agent already over it can still delete files. The measurement a command starts from is taken in the
    background after the previous command (while the agent thinks), so a large workspace does not slow launches.
    """

    root: Path
    limit_bytes: int
    interval_s: float = INTERVAL_S
    free_floor_bytes: int = HOST_FREE_FLOOR_BYTES
    at_start: int = 0
    last: int = 0
    reason: str = ""
    _free_at_start: int = 0
    _known: int | None = field(default=None, repr=False)
    _pending: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)
    _tripped: bool = field(default=False, repr=False)

    def start(self) -> None:
        """Take the baseline (the workspace's usage and the file system's free space) as the command starts."""
        if self._pending is not None:
            self._pending.join()
            self._pending = None
        known, self._known = self._known, None
        self.at_start = self.last = known if known is not None else workspace_usage(self.root)
        self._free_at_start = _free_bytes(self.root)
        self.reason = ""

    def finish(self, failed: bool) -> str | None:
        """After the command: when it failed, measure now and return a note if the workspace is at its quota
        (the likely cause); otherwise measure in the background for the next command and return None."""
        if failed:
            return self.full_note()
        self._pending = threading.Thread(target=self._measure, name="workspace-quota", daemon=True)
        self._pending.start()
        return None

    def _measure(self) -> None:
        self._known = workspace_usage(self.root)

    def file_limit(self) -> int:
        """RLIMIT_FSIZE for this command: what is left of the quota, so one growing file stops exactly at it."""
        return min(max(self.limit_bytes - self.at_start, MIN_FILE_BYTES), self.limit_bytes)

    def full_note(self) -> str | None:
        """After the command: a note when the workspace is at its quota (later writes then fail with EFBIG,
        'File too large', or the command is stopped), else None. Measures once more."""
        self.last = workspace_usage(self.root)
        self._known = self.last
        if self.last < self.limit_bytes - MIN_FILE_BYTES:
            return None
        return (f"\n[aarlab sandbox: the workspace holds {self.last / 2**20:.0f} MiB of its "
                f"{self.limit_bytes / 2**20:.0f} MiB disk quota (disk_mb); writing more fails with 'File too large' "
                "or stops the command. Delete what you do not need in /workspace]\n")

    def watch(self, stop: Callable[[], None]) -> None:
        """Measure in a background thread while the command runs; call ``stop`` (once) when it must be stopped.

        The thread never blocks the supervisor reading the command's output, so a short command in a large
        workspace does not wait for a measurement.
        """
        self._stopped = threading.Event()
        self._tripped = False
        stopped = self._stopped

        def loop() -> None:
            delay = self.interval_s
            while not stopped.wait(delay):
                began = time.monotonic()
                over = self._check()
                # a measurement costs ~0.5 ms per 100 entries: at most a fifth of one core goes to it
                delay = min(max(self.interval_s, 4 * (time.monotonic() - began)), MAX_INTERVAL_S)
                if over:
                    with self._lock:
                        if not stopped.is_set():
                            self._tripped = True
                            stop()
                    return

        threading.Thread(target=loop, name="workspace-quota-watch", daemon=True).start()

    @property
    def tripped(self) -> bool:
        """The watcher stopped the current command."""
        return self._tripped

    def unwatch(self) -> bool:
        """Stop watching (no ``stop`` call can follow) and say whether the quota stopped the command."""
        with self._lock:
            self._stopped.set()
            return self._tripped

    def _check(self) -> bool:
        """Measure and say whether the command must be stopped; :attr:`reason` then says why."""
        self.last = workspace_usage(self.root)
        free = _free_bytes(self.root)
        if self.last > self.limit_bytes and self.last > self.at_start:
            self.reason = (f"the workspace grew to {self.last / 2**20:.0f} MiB, over its disk quota of "
                           f"{self.limit_bytes / 2**20:.0f} MiB (disk_mb)")
        elif free < self.free_floor_bytes and free < self._free_at_start:
            self.reason = (f"the host file system under the workspace is down to {free / 2**20:.0f} MiB free "
                           f"(floor {self.free_floor_bytes / 2**20:.0f} MiB) while this command writes")
        return bool(self.reason)

    def message(self) -> str:
        """The note appended to the command's stderr when it was stopped."""
        return (f"\n[aarlab sandbox: command stopped: {self.reason}. Files written so far stay; delete what you do "
                "not need in /workspace (`du -sh /workspace/*`) before writing more]\n")
