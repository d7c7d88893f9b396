"""``BubblewrapSandbox``: every command in fresh namespaces with only the mounts an agent may see."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aarlab
from aarlab._threads import pick_threads, thread_env
from aarlab.agents.sandbox._base import ExecResult, Sandbox, SandboxError, SandboxLimits
from aarlab.agents.sandbox._cgroups import CgroupPool
from aarlab.agents.sandbox._masks import Masks, data_source_masks
from aarlab.agents.sandbox._process import Launch, prepare, run_prepared
from aarlab.agents.sandbox._quota import WorkspaceQuota

WORKSPACE = "/workspace"
DATA = "/data"
SCORING_SOCKET = "/run/aarlab/scoring.sock"
#: File in a suite's root holding the secret its builder drew (never mounted: see _masks, docs/sandbox.md).
BUILD_SECRET = "build_secret"
#: The sandbox user (mapped to the invoking host user; no capabilities either way).
UID = 1000

#: Host files of /etc that programs need (shared libraries, Debian's command alternatives, time zone);
#: the rest of /etc (pip/xdg configs, credentials, ssh, host names) stays outside.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "nsswitch.conf",
             "mime.types")
#: Generated /etc files: an account for the sandbox user so getpass/getpwuid work (torch asks).
ETC_GENERATED = {
    "passwd": f"agent:x:{UID}:{UID}:aarlab agent:{WORKSPACE}:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "group": f"agent:x:{UID}:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost\n",
}


def find_bwrap() -> str:
    """Path of the ``bwrap`` executable, or :class:`SandboxError` saying how to install it."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxError("bubblewrap (`bwrap`) is not installed, and agents' commands only run inside it; "
                           "install the Debian/Ubuntu package `bubblewrap` (`apt-get install bubblewrap`, or "
                           "run scripts/setup.sh as root), then try again")
    return path


@functools.lru_cache(maxsize=4)
def tmpfs_size_supported(bwrap: str) -> bool:
    """Whether this bubblewrap takes ``--size`` for a tmpfs (0.7 and later; Ubuntu 22.04 ships 0.6)."""
    try:
        help_text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--size" in help_text


def _is_within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def python_mounts() -> list[Path]:
    """Host directories the sandbox's Python needs, read-only at the same paths: the environment (venv), the
    interpreter installation it points to, and the aarlab package directory when it lives elsewhere (an editable
    install: the package dir only, never the repository around it, which may hold state dirs)."""
    roots: list[Path] = []
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        path = Path(prefix).resolve()
        if not _is_within(path, [Path("/usr"), *roots]):
            roots.append(path)
    package = Path(aarlab.__file__).resolve().parent
    if not _is_within(package, [Path("/usr"), *roots]):
        roots.append(package)
    return roots


def sandbox_python() -> str:
    """Path of a Python interpreter that works inside the sandbox (the one running aarlab, with torch etc.)."""
    return str(Path(sys.prefix) / "bin" / "python")


class BubblewrapSandbox(Sandbox):
    """One agent's sandbox; each :meth:`exec` starts a fresh bubblewrap instance.

    Inside: read-only ``/usr`` (and the ``/bin``, ``/lib*`` links), a few /etc files, the Python environment and
    the aarlab package; ``/workspace`` (read-write, the working directory and ``$HOME``); ``/data`` (the
    agent-visible dataset copy, read-only); the scoring service's Unix socket at ``/run/aarlab/scoring.sock``;
    private ``/tmp``, ``/proc`` and ``/dev``. All namespaces are new (no network interface but a down
    loopback), no capabilities, a cleared environment holding only this agent's token.
    """

    def __init__(self, workspace: Path, visible_data: Path | None = None, scoring_socket: Path | None = None,
                 token: str | None = None, limits: SandboxLimits | None = None,
                 extra_ro: Sequence[Path] = ()) -> None:
        """Check the paths and bubblewrap; raises :class:`SandboxError` naming what is wrong."""
        self.bwrap = find_bwrap()
        self.workspace = self._existing(workspace, "workspace", directory=True)
        self.visible_data = self._existing(visible_data, "visible data", directory=True) if visible_data else None
        self.scoring_socket = self._existing(scoring_socket, "scoring socket") if scoring_socket else None
        self.token = token
        self.limits = limits or SandboxLimits()
        #: CPU threads of the models run inside: this host process's share (a campaign sets it per agent).
        self.threads = pick_threads()
        self.extra_ro = [self._existing(p, "extra read-only path") for p in extra_ro]
        for path in self.extra_ro:
            if path == Path("/") or _is_within(self.workspace, [path]):
                raise SandboxError(f"extra read-only path {path} would expose the host around the workspace "
                                   f"{self.workspace}; pass the specific directory the agent needs (e.g. models/)")
            if (path / BUILD_SECRET).exists():
                raise SandboxError(f"extra read-only path {path} holds a suite's {BUILD_SECRET} (the secret that "
                                   "regenerates its labels); mount only the directory the agent needs (e.g. "
                                   f"{path / 'models'})")
        #: Builders and data-source packages inside the mounts, hidden (see _masks).
        self.masks: Masks = data_source_masks([*python_mounts(), Path("/usr"), *self.extra_ro])
        self._static = self._static_args()
        self._quota = WorkspaceQuota(self.workspace, self.limits.disk_mb * 1024 * 1024)
        self._spares = _Spares(CgroupPool(self.limits.memory_mb * 1024 * 1024, self.limits.pids))
        weakref.finalize(self, self._spares.close)

    @staticmethod
    def _existing(path: Path, what: str, *, directory: bool = False) -> Path:
        resolved = Path(path).expanduser().resolve()
        if not resolved.exists() or (directory and not resolved.is_dir()):
            kind = "directory" if directory else "path"
            raise SandboxError(f"{what} {path} does not exist (expected an existing {kind}); create it first")
        return resolved

    def _static_args(self) -> list[str]:
        args = [self.bwrap, "--unshare-all", "--unshare-user", "--unshare-cgroup", "--disable-userns",
                "--cap-drop", "ALL", "--uid", str(UID), "--gid", str(UID), "--hostname", "sandbox",
                "--die-with-parent", "--new-session",
                # Fresh /tmp, /proc and /dev first: a later bind under /tmp (a venv or checkout living there) must
                # land on top of the tmpfs, not be hidden by it.
                # /tmp is memory (charged to the memory cgroup) and bounded like the workspace where bwrap can.
                *(["--size", str(self.limits.disk_mb * 1024 * 1024)] if tmpfs_size_supported(self.bwrap) else []),
                "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
                "--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), f"/{name}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{name}"]
        for name in ETC_FILES:
            if (Path("/etc") / name).exists():
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        for path in [*python_mounts(), *self.extra_ro]:
            args += ["--ro-bind", str(path), str(path)]
        args += self.masks.bwrap_args()  # after the mounts that hold them
        args += ["--bind", str(self.workspace), WORKSPACE]
        if self.visible_data is not None:
            args += ["--ro-bind", str(self.visible_data), DATA]
        if self.scoring_socket is not None:
            args += ["--ro-bind", str(self.scoring_socket), SCORING_SOCKET]
        args += ["--chdir", WORKSPACE]
        return args

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The command's whole environment: fixed variables (with this sandbox's thread share for torch, OpenMP,
        MKL and OpenBLAS), this agent's token and socket, then ``extra``.

        It is handed to bubblewrap as its environment (not with ``--setenv``), so the token never appears on a
        host command line.
        """
        env = dict(extra or {})
        env.update({
            "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": WORKSPACE, "USER": "agent", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            **thread_env(self.threads),
        })
        if self.scoring_socket is not None:
            env["AARLAB_SERVER"] = f"unix://{SCORING_SOCKET}"
        if self.token is not None:
            env["AARLAB_TOKEN"] = self.token
        return env

    def command(self, argv: Sequence[str]) -> tuple[list[str], list[int]]:
        """The full bubblewrap command line for ``argv`` and the descriptors it reads generated /etc files from
        (the caller passes them to the child and closes them)."""
        args, fds = self._prefix()
        return [*args, *self._suffix(argv, None)], fds

    def _prefix(self) -> tuple[list[str], list[int]]:
        """The command line up to the agent's part, and the /etc descriptors it names."""
        args = list(self._static)
        fds: list[int] = []
        for name, content in ETC_GENERATED.items():
            read, write = os.pipe()
            os.write(write, content.encode())  # a few hundred bytes: fits the pipe buffer
            os.close(write)
            fds.append(read)
            args += ["--ro-bind-data", str(read), f"/etc/{name}"]
        return args, fds

    def _suffix(self, argv: Sequence[str], env: Mapping[str, str] | None) -> list[str]:
        """The per-command rest: extra variables (never the fixed ones), then the program."""
        fixed = self.environment()
        extra = [arg for key, value in (env or {}).items() if key not in fixed for arg in ("--setenv", key, value)]
        return [*extra, "--remount-ro", "/", "--", *argv]

    def _prepare(self) -> _Spare:
        """A launcher waiting in this sandbox's cgroups for a command (see :func:`prepare`)."""
        args, fds = self._prefix()
        # bubblewrap writes {"exit-code": N} to this pipe only when the agent's program ran and exited; a failure
        # without it is bubblewrap's own setup failing, whatever the agent's program may print on stderr.
        status_read, status_write = os.pipe()
        args = [args[0], "--json-status-fd", str(status_write), *args[1:]]
        try:
            launch = prepare(args, env=self.environment(), limits=self.limits, pass_fds=[*fds, status_write],
                             pool=self._spares.pool)
        except BaseException:
            os.close(status_read)
            raise
        finally:
            for fd in [*fds, status_write]:
                os.close(fd)
        return _Spare(launch, status_read)

    def exec(self, argv: Sequence[str], *, timeout_s: float | None = None, stdin: bytes | str | None = None,
             env: Mapping[str, str] | None = None) -> ExecResult:
        """Run ``argv`` in a fresh bubblewrap instance; see :meth:`Sandbox.exec` for timeouts, output limits
        and errors.

        The launcher (already in the sandbox's cgroups, rlimits lowered) is prepared in the background after each
        command, so that the next one pays only for bubblewrap. Variables of ``env`` travel on bubblewrap's
        command line (``--setenv``): no secrets there; the token is part of the fixed environment.
        """
        if not argv:
            raise ValueError("argv is empty: give the program to run, e.g. ['python', 'train.py']")
        if timeout_s is not None and timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, found {timeout_s}")
        wall = min(timeout_s, self.limits.wall_s) if timeout_s is not None else self.limits.wall_s
        data = stdin.encode() if isinstance(stdin, str) else stdin
        spare = self._spares.take() or self._prepare()
        try:
            result = run_prepared(spare.launch, self._suffix(argv, env), timeout_s=wall, limits=self.limits,
                                  stdin=data, quota=self._quota)
        finally:
            program_exited = b'"exit-code"' in _read_available(spare.status_read)
            self._spares.refill(self._prepare)
        if not program_exited and result.exit_code == 1 and result.stderr.startswith("bwrap:"):
            raise SandboxError(f"bubblewrap could not set up the sandbox: {result.stderr.strip()}; check that "
                               "user namespaces are allowed (sysctl kernel.unprivileged_userns_clone=1) or run "
                               "as root")
        return result

    def close(self) -> None:
        """Stop the prepared launcher and remove this sandbox's cgroups (also done when it is garbage)."""
        self._spares.close()


@dataclass
class _Spare:
    launch: Launch
    status_read: int

    def discard(self) -> None:
        self.launch.discard()
        os.close(self.status_read)


class _Spares:
    """At most one prepared launcher per sandbox, refilled by a background thread after each command."""

    def __init__(self, pool: CgroupPool) -> None:
        self.pool = pool
        self._spare: _Spare | None = None
        self._closed = False
        self._lock = threading.Lock()

    def take(self) -> _Spare | None:
        """The prepared launcher, if one is ready (it is then no longer here)."""
        with self._lock:
            spare, self._spare = self._spare, None
        return spare

    def refill(self, make: Callable[[], _Spare]) -> None:
        """Prepare the next launcher in the background (keeping none when closed or one is already there)."""

        def run() -> None:
            try:
                spare = make()
            except SandboxError:
                return  # the next exec prepares its own launcher and reports the problem
            with self._lock:
                keep = not self._closed and self._spare is None
                if keep:
                    self._spare = spare
            if not keep:
                spare.discard()

        threading.Thread(target=run, name="sandbox-launcher", daemon=True).start()

    def close(self) -> None:
        """Discard the prepared launcher and remove the cgroups."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()
        self.pool.close()


def _read_available(fd: int) -> bytes:
    """What is in a pipe now, without blocking (a process left behind may still hold its write end); closes it."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)
