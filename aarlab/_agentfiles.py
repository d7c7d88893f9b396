"""Host-side access to files an agent can influence (its workspace, its agent dir): never followed, never blocking.

An agent controls what its workspace holds, so any path in it may be a symlink to the server's secrets, a
symlinked parent directory, a FIFO that blocks whoever opens it, a socket, or a file of many gigabytes. Code
outside the sandbox touches such paths only through this module:

* paths are relative to a trusted ``root`` (the host chose it) and walked one component at a time with
  ``openat``-style directory fds and ``O_NOFOLLOW``, so no symlink is followed anywhere on the way;
* a file is opened ``O_NONBLOCK`` and checked with ``fstat`` on the opened fd: only regular files are read or
  written (a FIFO, socket or device is refused without waiting for a peer);
* reads are bounded by an explicit byte limit; writes replace the file atomically (a planted link or FIFO at
  the name is refused, never written through);
* every refusal is an :class:`UnsafeAgentFile` naming the path and what was found there.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafeAgentFile(OSError):
    """An agent-controlled path was refused: a symlink, not a regular file, too large, or outside its root."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}; refused (agent files are only used as regular files inside their "
                         "directory, never through links)")
        self.path = path
        self.reason = reason


class AgentFileTooLarge(UnsafeAgentFile):
    """An agent file (or content for one) is larger than the caller's limit."""


def kind_of(mode: int) -> str:
    """A file type in words, for refusal messages."""
    for test, name in ((stat.S_ISLNK, "a symlink"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "a special file"


def _parts(relpath: str | PurePosixPath) -> list[str]:
    text = str(relpath)
    if "\x00" in text:
        raise UnsafeAgentFile(repr(text), "the path holds a NUL byte")
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts:
        raise UnsafeAgentFile(text, "the path is absolute or climbs out with '..'")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts:
        raise UnsafeAgentFile(text, "the path names no file")
    return parts


def _shown(root: Path, parts: list[str]) -> str:
    return str(root.joinpath(*parts))


def _refuse_entry(dir_fd: int, name: str, shown: str, want: str) -> UnsafeAgentFile:
    """Why ``name`` in ``dir_fd`` could not be used as ``want``; re-raises FileNotFoundError when it is gone."""
    try:
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no such file or directory", shown) from None
    return UnsafeAgentFile(shown, f"expected {want}, found {kind_of(found.st_mode)}")


def _open_root(root: Path) -> int:
    try:
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except NotADirectoryError:
        raise UnsafeAgentFile(str(root), "expected a directory") from None


def _open_dirs(root: Path, parts: list[str], *, create: bool = False) -> int:
    """An fd of the directory ``root/parts...`` reached without following any link (created when asked)."""
    fd = _open_root(root)
    try:
        for i, part in enumerate(parts):
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:  # ENOTDIR: a file, FIFO...; ELOOP: a symlink
                if err.errno in (errno.ENOTDIR, errno.ELOOP):
                    raise _refuse_entry(fd, part, _shown(root, parts[:i + 1]), "a directory") from None
                if isinstance(err, FileNotFoundError):
                    raise FileNotFoundError(errno.ENOENT, "no such directory", _shown(root, parts[:i + 1])) from None
                raise
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


@dataclass
class AgentFile:
    """A regular agent file opened for reading (see :func:`open_agent_file`)."""

    path: str
    fd: int
    size: int

    def read(self, limit: int, offset: int = 0) -> bytes:
        """At most ``limit`` bytes from ``offset`` (fewer at the end of the file)."""
        chunks: list[bytes] = []
        left = max(0, limit)
        while left > 0:
            chunk = os.pread(self.fd, min(left, 1 << 20), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            left -= len(chunk)
        return b"".join(chunks)


@contextmanager
def open_agent_file(root: Path, relpath: str | PurePosixPath) -> Iterator[AgentFile]:
    """Open ``root/relpath`` for reading if it is a regular file reached through no link; refuse otherwise.

    Raises :class:`FileNotFoundError` when it is missing and :class:`UnsafeAgentFile` for a symlink (at any
    component), a FIFO, socket, device or directory. Never blocks.
    """
    parts = _parts(relpath)
    shown = _shown(root, parts)
    dir_fd = _open_dirs(root, parts[:-1])
    try:
        try:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "no such file", shown) from None
        except OSError as err:  # ELOOP: a symlink; ENXIO: a socket; EISDIR never (O_RDONLY opens directories)
            if err.errno in (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP, errno.EACCES, errno.EPERM):
                raise _refuse_entry(dir_fd, parts[-1], shown, "a regular file") from None
            raise
    finally:
        os.close(dir_fd)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise UnsafeAgentFile(shown, f"expected a regular file, found {kind_of(found.st_mode)}")
        yield AgentFile(shown, fd, found.st_size)
    finally:
        os.close(fd)


def read_agent_file(root: Path, relpath: str | PurePosixPath, limit: int, *, truncate: bool = False) -> bytes:
    """The bytes of regular file ``root/relpath``, at most ``limit`` of them.

    A larger file is refused (:class:`UnsafeAgentFile`) unless ``truncate``, which returns its first ``limit``
    bytes. Missing: :class:`FileNotFoundError`. Links and special files: :class:`UnsafeAgentFile`.
    """
    with open_agent_file(root, relpath) as fh:
        if fh.size > limit and not truncate:
            raise AgentFileTooLarge(fh.path, f"it has {fh.size} bytes, more than the limit of {limit}")
        return fh.read(limit)


def read_agent_text(root: Path, relpath: str | PurePosixPath, limit: int, *, truncate: bool = False) -> str:
    """:func:`read_agent_file` decoded as UTF-8 (undecodable bytes replaced)."""
    return read_agent_file(root, relpath, limit, truncate=truncate).decode("utf-8", "replace")


def _refuse_existing(dir_fd: int, name: str, shown: str) -> int | None:
    """The permission bits of the regular file at ``name`` (None when there is none); refuses anything else."""
    try:
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(found.st_mode):
        raise UnsafeAgentFile(shown, f"expected a regular file to replace, found {kind_of(found.st_mode)}")
    return stat.S_IMODE(found.st_mode)


def write_agent_file(root: Path, relpath: str | PurePosixPath, data: bytes | str, *, limit: int | None = None,
                     mode: int | None = None, append: bool = False) -> Path:
    """Write ``data`` to ``root/relpath`` (parent directories created, none of them a link); returns the path.

    Without ``append`` the file is replaced atomically (a temporary file in the same directory renamed over it);
    with ``append`` the bytes are added to an existing regular file. ``mode``: the file's permission bits (default:
    those of the file replaced, else 0o644). A symlink, FIFO, socket or directory at the
    name, or a link on the way, is refused (:class:`UnsafeAgentFile`), so nothing is ever written outside ``root``.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    parts = _parts(relpath)
    shown = _shown(root, parts)
    if limit is not None and len(payload) > limit:
        raise AgentFileTooLarge(shown, f"the content has {len(payload)} bytes, more than the limit of {limit}")
    dir_fd = _open_dirs(root, parts[:-1], create=True)
    try:
        existing = _refuse_existing(dir_fd, parts[-1], shown)
        chosen = mode if mode is not None else existing if existing is not None else 0o644
        if append:
            _append(dir_fd, parts[-1], shown, payload, chosen)
        else:
            _replace(dir_fd, parts[-1], shown, payload, chosen)
    finally:
        os.close(dir_fd)
    return root.joinpath(*parts)


def _append(dir_fd: int, name: str, shown: str, payload: bytes, mode: int) -> None:
    try:
        fd = os.open(name, _APPEND_FLAGS, mode, dir_fd=dir_fd)
    except OSError as err:  # ELOOP: a link planted since the check; ENXIO: a FIFO without reader
        if err.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            raise _refuse_entry(dir_fd, name, shown, "a regular file") from None
        raise
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise UnsafeAgentFile(shown, f"expected a regular file, found {kind_of(found.st_mode)}")
        os.set_blocking(fd, True)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _replace(dir_fd: int, name: str, shown: str, payload: bytes, mode: int) -> None:
    tmp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fchmod(fh.fileno(), mode)  # the umask applied at creation
        try:
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)  # replaces a link planted meanwhile, never
        except IsADirectoryError:  # writes through it
            raise UnsafeAgentFile(shown, "expected a regular file to replace, found a directory") from None
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


@dataclass(frozen=True)
class AgentEntry:
    """One entry of an agent directory, as found (links not followed)."""

    name: str
    kind: str  # "file", "dir", "symlink" or "other" (FIFO, socket, device)
    size: int


def list_agent_dir(root: Path, relpath: str | PurePosixPath = ".") -> list[AgentEntry]:
    """The entries of directory ``root/relpath`` sorted by name, each with its own type (links not followed)."""
    parts = [] if str(relpath) in ("", ".") else _parts(relpath)
    fd = _open_dirs(root, parts)
    try:
        entries = []
        with os.scandir(fd) as found:
            for entry in found:
                info = entry.stat(follow_symlinks=False)
                kind = ("symlink" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode)
                        else "file" if stat.S_ISREG(info.st_mode) else "other")
                entries.append(AgentEntry(entry.name, kind, info.st_size))
    finally:
        os.close(fd)
    return sorted(entries, key=lambda e: e.name)


def walk_agent_files(root: Path, *, exclude: tuple[str, ...] = ()) -> Iterator[tuple[str, int]]:
    """(relative path, size) of every regular file under ``root``, sorted; a link or special file anywhere is
    refused (:class:`UnsafeAgentFile`) rather than skipped. Entries named in ``exclude`` are passed over."""
    def walk(prefix: str) -> Iterator[tuple[str, int]]:
        for entry in list_agent_dir(root, prefix or "."):
            rel = f"{prefix}/{entry.name}" if prefix else entry.name
            if entry.name in exclude:
                continue
            if entry.kind == "dir":
                yield from walk(rel)
            elif entry.kind == "file":
                yield rel, entry.size
            else:
                what = "a symlink" if entry.kind == "symlink" else "not a regular file (a FIFO, socket or device)"
                raise UnsafeAgentFile(str(root / rel), f"it is {what}")
    return walk("")
