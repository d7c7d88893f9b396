"""Shared campaign state without a shared disk: directory trees as archives at an fsspec URL.

A campaign on a cluster keeps what moves between machines in one place: the suite's models and the agent-visible
data (head -> nodes), each agent's set-up (assignment and token) and its checkpoints (workspace, transcript,
notebook, usage, log; node -> head, and to the next node after a move). The URL is a local directory by default and
``s3://bucket/prefix`` (s3fs) on a cluster; the code is the same.

Trees are packed by :func:`pack_tree`, which reads agent-written files as an adversary could have left them: only
regular files and directories are taken (symlinks, FIFOs, sockets and devices are skipped, a file swapped for one
between the listing and the read is noticed), files and the whole archive are bounded, and SQLite databases are
copied with SQLite's backup API so a checkpoint taken while the agent writes is never torn. :func:`unpack_tree`
extracts only regular files and directories inside the target, within a byte bound.
"""

from __future__ import annotations

import io
import os
import sqlite3
import stat
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Default bounds: one file, and a whole archive (packed or unpacked).
MAX_FILE_BYTES = 256 * 2**20
MAX_TREE_BYTES = 2 * 2**30
_SQLITE_MAGIC = b"SQLite format 3\0"


class StorageError(RuntimeError):
    """The campaign storage cannot be reached or used; the message names the URL and the problem."""


@dataclass
class PackReport:
    """What :func:`pack_tree` took and what it left out (with why)."""

    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)


def _walk(root: Path, exclude: frozenset[str]) -> Iterator[tuple[Path, os.stat_result]]:
    """(relative path, lstat) of everything under ``root``, top-down, without following symlinks."""
    stack = [Path()]
    while stack:
        rel = stack.pop()
        try:
            entries = sorted(os.scandir(root / rel), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            child = rel / entry.name
            if child.as_posix() in exclude:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield child, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)


def _sqlite_copy(fd: int) -> bytes | None:
    """A consistent copy of the SQLite database open as ``fd``, or None when it is not one."""
    os.lseek(fd, 0, os.SEEK_SET)
    if os.read(fd, len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
        os.lseek(fd, 0, os.SEEK_SET)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "copy.db"
        try:
            # the open descriptor, not the name: a path swapped for a symlink since the open is not followed
            source = sqlite3.connect(f"file:/proc/self/fd/{fd}?mode=ro", uri=True, timeout=10)
            try:
                with sqlite3.connect(target) as dest:
                    source.backup(dest)
                dest.close()
            finally:
                source.close()
        except sqlite3.Error:
            os.lseek(fd, 0, os.SEEK_SET)
            return None  # not readable as a database: taken as plain bytes
        return target.read_bytes()


def pack_tree(root: Path, *, exclude: tuple[str, ...] = (), max_file_bytes: int = MAX_FILE_BYTES,
              max_bytes: int = MAX_TREE_BYTES) -> tuple[bytes, PackReport]:
    """A gzipped tar of the regular files and directories under ``root`` (paths relative to it) and a report.

    ``exclude``: relative POSIX paths left out (with everything under them). Files over ``max_file_bytes`` and files
    past ``max_bytes`` in all are skipped and named in the report; so is anything that is not a regular file or
    directory. Nothing is followed: a symlink planted in a workspace is skipped, not read.
    """
    report = PackReport()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for rel, st in _walk(root, frozenset(exclude)):
            name = rel.as_posix()
            if stat.S_ISDIR(st.st_mode):
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(st.st_mtime)
                tar.addfile(info)
                continue
            if not stat.S_ISREG(st.st_mode):
                report.skipped.append(f"{name} (not a regular file)")
                continue
            _add_file(tar, root / rel, name, report, max_file_bytes, max_bytes)
    return buffer.getvalue(), report


def _add_file(tar: tarfile.TarFile, path: Path, name: str, report: PackReport, max_file_bytes: int,
              max_bytes: int) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        report.skipped.append(f"{name} (cannot be opened as a regular file)")
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO or device since the listing
            report.skipped.append(f"{name} (not a regular file)")
            return
        if st.st_size > max_file_bytes:
            report.skipped.append(f"{name} ({st.st_size} bytes > {max_file_bytes} per file)")
            return
        data = _sqlite_copy(fd) if st.st_size >= len(_SQLITE_MAGIC) else None
        if data is None:
            chunks, left = [], max_file_bytes + 1
            while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
                chunks.append(chunk)
                left -= len(chunk)
            data = b"".join(chunks)
        if len(data) > max_file_bytes:
            report.skipped.append(f"{name} (grew past {max_file_bytes} bytes while read)")
            return
        if report.bytes + len(data) > max_bytes:
            report.skipped.append(f"{name} (the archive would pass {max_bytes} bytes)")
            return
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, int(st.st_mtime)
        tar.addfile(info, io.BytesIO(data))
        report.files += 1
        report.bytes += len(data)
    finally:
        os.close(fd)


def unpack_tree(data: bytes, dest: Path, *, max_bytes: int = MAX_TREE_BYTES) -> int:
    """Extract an archive of :func:`pack_tree` into ``dest``: regular files and directories only, every path inside
    ``dest``, at most ``max_bytes`` in all (:class:`StorageError` otherwise). Returns the files written."""
    dest.mkdir(parents=True, exist_ok=True)
    written, total = 0, 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                if not (member.isfile() or member.isdir()):
                    raise StorageError(f"archive member {member.name!r} is not a file or directory")
                if member.name.startswith("/") or ".." in member.name.split("/"):
                    raise StorageError(f"archive member {member.name!r} points outside the target")
                checked = tarfile.data_filter(member, str(dest))  # no absolute paths, no '..', sane modes
                if member.isfile():
                    total += member.size
                    if total > max_bytes:
                        raise StorageError(f"archive unpacks to more than {max_bytes} bytes")
                tar.extract(checked, dest, filter="data")
                written += member.isfile()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise StorageError(f"a stored archive could not be unpacked into {dest}: {err}") from None
    return written


class Storage:
    """Blobs under one fsspec URL (``file:///…``, a plain path, or ``s3://bucket/prefix``).

    S3 endpoints and credentials come from the usual AWS environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``,
    ...) or ``options`` (s3fs keyword arguments). Writes are whole objects: a reader sees an old or a new archive,
    never half of one (local files are written to a temporary name and renamed).
    """

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.options = dict(options or {})
        try:
            # a fresh filesystem: fsspec's instance cache would keep the credentials of an earlier Storage
            self.fs, self.root = fsspec.core.url_to_fs(self.url, skip_instance_cache=True, **self.options)
        except (ImportError, ValueError) as err:
            raise StorageError(f"storage {url!r}: {err}") from None
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def _path(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"invalid storage key {key!r}")
        return f"{self.root}/{key}"

    def _fail(self, action: str, key: str, err: BaseException) -> StorageError:
        reason = str(err) or type(err).__name__
        return StorageError(f"storage {self.url}: cannot {action} {key!r}: {reason}")

    def put(self, key: str, data: bytes) -> None:
        """Write the object ``key`` (replacing it)."""
        path = self._path(key)
        try:
            if self.local:
                self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                tmp = f"{path}.{uuid.uuid4().hex}.tmp"
                with self.fs.open(tmp, "wb") as out:
                    out.write(data)
                self.fs.mv(tmp, path)
            else:
                self.fs.pipe_file(path, data)
        except Exception as err:  # noqa: BLE001 - fsspec backends raise their own types; all mean "cannot write"
            raise self._fail("write", key, err) from None

    def get(self, key: str) -> bytes | None:
        """The object ``key``, or None when there is none."""
        path = self._path(key)
        try:
            return bytes(self.fs.cat_file(path))
        except FileNotFoundError:
            return None
        except Exception as err:  # noqa: BLE001
            raise self._fail("read", key, err) from None

    def version(self, key: str) -> str | None:
        """A token that changes whenever ``key`` is rewritten (ETag or mtime and size), None when it is absent."""
        path = self._path(key)
        try:
            self.fs.invalidate_cache(path)
            info = self.fs.info(path)
        except FileNotFoundError:
            return None
        except Exception as err:  # noqa: BLE001
            raise self._fail("stat", key, err) from None
        return str(info.get("ETag") or info.get("etag") or (info.get("mtime"), info.get("size")))

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        path = self._path(key)
        try:
            self.fs.rm(path)
        except FileNotFoundError:
            return
        except Exception as err:  # noqa: BLE001
            raise self._fail("delete", key, err) from None

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (relative to the storage URL)."""
        base = self._path(prefix) if prefix else self.root
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        except Exception as err:  # noqa: BLE001
            raise self._fail("list", prefix or "/", err) from None
        root = self.root.rstrip("/") + "/"
        return sorted(p[len(root):] if p.startswith(root) else p for p in found if not p.endswith(".tmp"))

    def check(self) -> None:
        """Write, read back and delete a probe object: :class:`StorageError` naming the problem (bad credentials,
        no such bucket, no endpoint) before a campaign starts anything."""
        key = f"_probe/{uuid.uuid4().hex}"
        self.put(key, b"aarlab")
        if self.get(key) != b"aarlab":
            raise StorageError(f"storage {self.url}: a probe object written there does not read back")
        self.delete(key)

    def put_tree(self, key: str, root: Path, **limits: Any) -> PackReport:
        """Pack ``root`` (see :func:`pack_tree`) and store it as ``key``."""
        data, report = pack_tree(root, **limits)
        self.put(key, data)
        return report

    def get_tree(self, key: str, dest: Path, *, max_bytes: int = MAX_TREE_BYTES) -> bool:
        """Unpack ``key`` into ``dest``; False when there is no such archive."""
        data = self.get(key)
        if data is None:
            return False
        unpack_tree(data, dest, max_bytes=max_bytes)
        return True
