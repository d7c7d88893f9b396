"""The code store: workspace snapshots, validated, content-addressed and kept behind fsspec.

A snapshot is a set of regular files. Its id is the sha256 of a canonical manifest (sorted paths with each file's
sha256, size and executable bit), so the same workspace always gets the same id. File contents are stored once as
blobs keyed by their sha256. Uploads come as a tar.gz or as a JSON file list; either is checked entry by entry
before anything is stored: relative normalised paths only (no absolute paths, no ``..``, no NUL or backslash),
regular files and directories only (symlinks, hard links and devices are refused), and size/count limits.

An archive is bounded before :mod:`tarfile` sees it: gzip is inflated in chunks up to a cap (a gzip bomb stops at
the cap, not at the end of the stream), then every 512-byte header is pre-scanned so that a pax or GNU long-name
header bigger than :data:`MAX_EXTENDED_HEADER` bytes, a member over the file limit, or too many entries are
refused before anything is parsed into memory (``tarfile`` reads extended headers whole).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import re
import secrets
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any

import fsspec

from aarlab.server._audit import canonical_json

#: A snapshot id: the sha256 of its manifest, 64 lowercase hex digits.
SNAPSHOT_HEX = "[0-9a-f]{64}"
SNAPSHOT_ID = re.compile(f"^{SNAPSHOT_HEX}$")
#: Largest pax (``x``/``g``) or GNU long name/link (``L``/``K``) header accepted: paths are at most 255 characters.
MAX_EXTENDED_HEADER = 16 * 1024
#: Inflated bytes allowed beyond the snapshot's total size: headers, padding and directories of a real workspace.
ARCHIVE_OVERHEAD = 16 * 1024 * 1024
_BLOCK = 512
_EXTENDED = {b"x": "pax header", b"g": "pax global header", b"L": "GNU long name", b"K": "GNU long link name"}
_PAX_SIZE = re.compile(rb"(?:^|\n)\d+ size=(\d+)\n")


class SnapshotRejected(ValueError):
    """An upload breaks a rule; the message names the offending entry. ``status``: 413 for size limits, else 422."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SnapshotLimits:
    """Upper bounds for one snapshot."""

    max_total_bytes: int = 64 * 1024 * 1024
    max_files: int = 5000
    max_file_bytes: int = 16 * 1024 * 1024
    max_path_chars: int = 255


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a snapshot."""

    path: str
    data: bytes
    executable: bool = False

    @property
    def sha256(self) -> str:
        """Content hash of the file."""
        return hashlib.sha256(self.data).hexdigest()


def check_path(raw: str, limits: SnapshotLimits, *, directory: bool = False) -> str:
    """The normalised relative path, or :class:`SnapshotRejected` naming what is wrong with it.

    A directory may normalise to the root itself (``./`` as written by ``tar -C dir .``); a file may not.
    """
    if not raw or "\x00" in raw or "\\" in raw:
        raise SnapshotRejected(f"entry {raw!r}: empty path or path with NUL/backslash")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise SnapshotRejected(f"entry {raw!r}: absolute paths are not allowed")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SnapshotRejected(f"entry {raw!r}: '..' is not allowed in paths")
    path = "/".join(parts)
    if not path and not directory:
        raise SnapshotRejected(f"entry {raw!r}: path names no file")
    if len(path) > limits.max_path_chars:
        raise SnapshotRejected(f"entry {raw[:60]!r}...: path longer than {limits.max_path_chars} characters")
    return path


def _check_totals(files: list[SnapshotFile], limits: SnapshotLimits) -> list[SnapshotFile]:
    if not files:
        raise SnapshotRejected("snapshot has no files")
    if len(files) > limits.max_files:
        raise SnapshotRejected(f"snapshot has {len(files)} files; the limit is {limits.max_files}", 413)
    total = sum(len(f.data) for f in files)
    if total > limits.max_total_bytes:
        raise SnapshotRejected(f"snapshot is {total} bytes; the limit is {limits.max_total_bytes}", 413)
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            raise SnapshotRejected(f"entry {f.path!r}: duplicate path")
        seen.add(f.path)
    dirs = {posixpath.dirname(f.path) for f in files}
    clash = seen & {d for path in dirs for d in _ancestors(path)}
    if clash:
        raise SnapshotRejected(f"entry {sorted(clash)[0]!r}: is both a file and a directory")
    return sorted(files, key=lambda f: f.path)


def _ancestors(path: str) -> list[str]:
    out = []
    while path:
        out.append(path)
        path = posixpath.dirname(path)
    return out


class _HeaderScan:
    """Walks the raw 512-byte tar headers as inflated bytes arrive; refuses at the first header over a limit."""

    def __init__(self, limits: SnapshotLimits) -> None:
        self.limits = limits
        self.offset = self.entries = self.total = 0
        self.pax_size: int | None = None
        self.done = False

    def feed(self, data: bytes | bytearray) -> None:
        """Check every header now complete in ``data`` (all bytes inflated so far)."""
        while not self.done and self.offset + _BLOCK <= len(data):
            header = bytes(data[self.offset:self.offset + _BLOCK])
            if header == bytes(_BLOCK):
                self.done = True  # end-of-archive marker
                return
            kind, size = header[156:157], _octal(header[124:136], self.offset)
            name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
            if kind in _EXTENDED:
                if size > MAX_EXTENDED_HEADER:
                    raise SnapshotRejected(f"entry {name[:60]!r}: {_EXTENDED[kind]} of {size} bytes; the limit is "
                                           f"{MAX_EXTENDED_HEADER} (paths are at most {self.limits.max_path_chars} "
                                           "characters)", 413)
                if kind == b"x":
                    if self.offset + _BLOCK + size > len(data):
                        return  # its records are not all inflated yet
                    found = _PAX_SIZE.search(bytes(data[self.offset + _BLOCK:self.offset + _BLOCK + size]))
                    self.pax_size = int(found.group(1)) if found else None
            else:
                self._member(name, kind, size)
                size = self.pax_size if self.pax_size is not None else size  # a pax size overrides the header's
                self.pax_size = None
            self.offset += _BLOCK + -(-size // _BLOCK) * _BLOCK

    def _member(self, name: str, kind: bytes, size: int) -> None:
        self.entries += 1
        if self.entries > 2 * self.limits.max_files:
            raise SnapshotRejected(f"archive has more than {2 * self.limits.max_files} entries", 413)
        size = self.pax_size if self.pax_size is not None else size
        if kind not in (b"0", b"\0", b"7"):
            return
        if size > self.limits.max_file_bytes:
            raise SnapshotRejected(f"entry {name[:60]!r}: {size} bytes; the limit is {self.limits.max_file_bytes}",
                                   413)
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise SnapshotRejected(f"snapshot exceeds {self.limits.max_total_bytes} bytes (at entry {name[:60]!r})",
                                   413)


def _octal(field: bytes, offset: int) -> int:
    try:
        return tarfile.nti(field)  # type: ignore[attr-defined]  # octal or base-256, as tarfile reads it
    except (tarfile.HeaderError, ValueError):
        raise SnapshotRejected(f"not a readable tar archive: bad size field in the header at byte {offset}") from None


def inflate(data: bytes, limits: SnapshotLimits, chunk_bytes: int = 1024 * 1024) -> bytes:
    """The tar bytes of an upload, headers checked on the way: gzip (one or more members) inflated a chunk at a
    time up to the snapshot limit plus :data:`ARCHIVE_OVERHEAD`, or plain tar as is."""
    scan = _HeaderScan(limits)
    if data[:2] != b"\x1f\x8b":
        if data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
            raise SnapshotRejected("archive is bzip2 or xz compressed; send a gzip-compressed (tar -czf) or plain tar")
        scan.feed(data)
        return data
    cap = limits.max_total_bytes + ARCHIVE_OVERHEAD
    out = bytearray()
    rest = data
    while rest[:2] == b"\x1f\x8b" and not scan.done:
        stream = zlib.decompressobj(wbits=31)
        pending = rest
        while pending and not stream.eof and not scan.done:
            try:
                out += stream.decompress(pending, chunk_bytes)
            except zlib.error as err:
                raise SnapshotRejected(f"not a readable tar.gz archive: gzip data is corrupt ({err})") from None
            if len(out) > cap:
                raise SnapshotRejected(f"archive inflates to more than {cap} bytes (the snapshot limit plus "
                                       f"{ARCHIVE_OVERHEAD} bytes of headers); push a smaller workspace", 413)
            scan.feed(out)
            pending = stream.unconsumed_tail
        if not stream.eof and not scan.done:
            raise SnapshotRejected("not a readable tar.gz archive: the gzip stream is truncated")
        rest = stream.unused_data
    return bytes(out)


def read_tar_gz(data: bytes, limits: SnapshotLimits) -> list[SnapshotFile]:
    """Validated files of a (gzip-compressed) tar upload; directories are implied and skipped."""
    files: list[SnapshotFile] = []
    total = entries = 0
    raw = inflate(data, limits)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            for member in archive:
                entries += 1  # directories count too: an archive of a million empty dirs is not a workspace
                if entries > 2 * limits.max_files:
                    raise SnapshotRejected(f"archive has more than {2 * limits.max_files} entries", 413)
                if member.isdir():
                    check_path(member.name, limits, directory=True)
                    continue
                if not member.isfile():
                    kind = "symlink" if member.issym() else "hard link" if member.islnk() else "special file"
                    raise SnapshotRejected(f"entry {member.name!r}: {kind}s are not allowed (regular files only)")
                path = check_path(member.name, limits)
                if member.size > limits.max_file_bytes:
                    raise SnapshotRejected(f"entry {path!r}: {member.size} bytes; the limit is "
                                           f"{limits.max_file_bytes}", 413)
                total += member.size
                if total > limits.max_total_bytes:
                    raise SnapshotRejected(f"snapshot exceeds {limits.max_total_bytes} bytes (at entry {path!r})",
                                           413)
                if len(files) >= limits.max_files:
                    raise SnapshotRejected(f"snapshot has more than {limits.max_files} files", 413)
                extracted = archive.extractfile(member)
                content = extracted.read() if extracted is not None else b""
                files.append(SnapshotFile(path, content, bool(member.mode & 0o111)))
    except (tarfile.TarError, EOFError, OSError) as err:
        raise SnapshotRejected(f"not a readable tar(.gz) archive: {err}") from None
    return _check_totals(files, limits)


def read_file_list(entries: list[dict[str, Any]], limits: SnapshotLimits) -> list[SnapshotFile]:
    """Validated files of a JSON upload: ``[{"path", "content_b64", "executable"?}]``."""
    files = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) \
                or not isinstance(entry.get("content_b64"), str) \
                or not isinstance(entry.get("executable", False), bool):
            raise SnapshotRejected(f"files[{index}]: expected {{'path': str, 'content_b64': str, "
                                   "'executable': bool (optional)}")
        path = check_path(entry["path"], limits)
        try:
            content = base64.b64decode(entry["content_b64"], validate=True)
        except ValueError:
            raise SnapshotRejected(f"entry {path!r}: content_b64 is not valid base64") from None
        if len(content) > limits.max_file_bytes:
            raise SnapshotRejected(f"entry {path!r}: {len(content)} bytes; the limit is {limits.max_file_bytes}",
                                   413)
        files.append(SnapshotFile(path, content, bool(entry.get("executable", False))))
    return _check_totals(files, limits)


def manifest_of(files: list[SnapshotFile]) -> list[dict[str, Any]]:
    """The canonical manifest: one record per file, sorted by path."""
    return [{"path": f.path, "sha256": f.sha256, "size": len(f.data), "executable": f.executable}
            for f in sorted(files, key=lambda f: f.path)]


def snapshot_id(manifest: list[dict[str, Any]]) -> str:
    """Content address of a snapshot: sha256 of its canonical manifest JSON."""
    return hashlib.sha256(canonical_json(manifest)).hexdigest()


class BlobStore:
    """Blobs and manifests under an fsspec URL (a local directory by default, ``s3://bucket/prefix`` by config)."""

    def __init__(self, url: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.fs.makedirs(self.root, exist_ok=True)

    def _blob(self, sha: str) -> str:
        return f"{self.root}/blobs/{sha[:2]}/{sha}"

    def _manifest(self, sid: str) -> str:
        return f"{self.root}/snapshots/{sid}.json"

    def _write(self, path: str, data: bytes) -> None:
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        tmp = f"{path}.{secrets.token_hex(6)}.tmp"  # two pushes of the same blob must not share a temp file
        with self.fs.open(tmp, "wb") as fh:
            fh.write(data)
        self.fs.mv(tmp, path)

    def put(self, files: list[SnapshotFile]) -> tuple[str, list[dict[str, Any]]]:
        """Store a snapshot's blobs and manifest (idempotent); returns (id, manifest)."""
        manifest = manifest_of(files)
        sid = snapshot_id(manifest)
        for f in files:
            if not self.fs.exists(self._blob(f.sha256)):
                self._write(self._blob(f.sha256), f.data)
        if not self.fs.exists(self._manifest(sid)):
            self._write(self._manifest(sid), json.dumps(manifest).encode())
        return sid, manifest

    def manifest(self, sid: str) -> list[dict[str, Any]] | None:
        """A stored manifest, or None (also for anything that is not a snapshot id: it becomes part of a path)."""
        if not SNAPSHOT_ID.match(sid):
            return None
        path = self._manifest(sid)
        if not self.fs.exists(path):
            return None
        return json.loads(self.fs.cat_file(path))

    def tar_gz(self, manifest: list[dict[str, Any]]) -> bytes:
        """A tar.gz of a snapshot's files (regular files only, paths as stored)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for entry in manifest:
                data = self.fs.cat_file(self._blob(entry["sha256"]))
                info = tarfile.TarInfo(entry["path"])
                info.size = len(data)
                info.mode = 0o755 if entry["executable"] else 0o644
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()
