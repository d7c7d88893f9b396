"""Client side of the code store: pack a workspace directory, and extract a snapshot without escaping the target.

Extraction trusts nothing in the archive: every entry must be a regular file (or directory) whose normalised
relative path resolves inside the target directory; otherwise nothing is written and the entry is named.
Packing trusts nothing in the directory (it may be an agent's workspace): files are found and read through
:mod:`aarlab._agentfiles`, so a symlink, FIFO or socket anywhere is refused, never followed or waited on, and
sizes are bounded before anything is buffered.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from aarlab._agentfiles import UnsafeAgentFile, open_agent_file, walk_agent_files, write_agent_file

#: Client-side bounds of a packed directory (the server's defaults; it enforces its own settings too).
MAX_PACK_FILE_BYTES = 16 * 1024 * 1024
MAX_PACK_TOTAL_BYTES = 64 * 1024 * 1024
MAX_PACK_FILES = 5000


class UnsafeArchiveError(ValueError):
    """An archive entry would escape the target directory or is not a regular file."""


def _packable(directory: Path, exclude: tuple[str, ...]) -> list[str]:
    """The regular files to pack, checked against the bounds before any is read."""
    found, total = [], 0
    for rel, size in walk_agent_files(directory, exclude=exclude):
        if size > MAX_PACK_FILE_BYTES:
            raise UnsafeArchiveError(f"{rel}: {size} bytes, more than the {MAX_PACK_FILE_BYTES} a snapshot file may "
                                     "have; leave it out (move it elsewhere) and push again")
        total += size
        found.append(rel)
        if total > MAX_PACK_TOTAL_BYTES or len(found) > MAX_PACK_FILES:
            raise UnsafeArchiveError(f"{directory}: more than {MAX_PACK_TOTAL_BYTES} bytes or {MAX_PACK_FILES} "
                                     "files; push a smaller directory")
    return found


def pack_directory(directory: Path, *, exclude: tuple[str, ...] = (".git", "__pycache__", ".venv")) -> bytes:
    """A tar.gz of the regular files under ``directory`` (paths relative to it). Symlinks (to files or
    directories), FIFOs, sockets and oversized files are refused with :class:`UnsafeArchiveError`."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    buffer = io.BytesIO()
    try:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for rel in _packable(directory, exclude):
                with open_agent_file(directory, rel) as fh:  # the file may have changed since it was listed
                    data = fh.read(MAX_PACK_FILE_BYTES + 1)
                    mode = os.fstat(fh.fd).st_mode
                if len(data) > MAX_PACK_FILE_BYTES:
                    raise UnsafeArchiveError(f"{rel}: grew past {MAX_PACK_FILE_BYTES} bytes while being packed")
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), mode & 0o777, 0
                archive.addfile(info, io.BytesIO(data))
    except UnsafeAgentFile as err:
        rel = os.path.relpath(err.path, directory) if err.path.startswith(str(directory)) else err.path
        raise UnsafeArchiveError(f"{rel}: {err.reason}; symlinks and special files cannot be pushed (copy the "
                                 "file instead)") from None
    return buffer.getvalue()


def _target(dest: Path, name: str) -> Path:
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        raise UnsafeArchiveError(f"entry {name!r}: absolute or malformed path")
    if ".." in name.split("/"):
        raise UnsafeArchiveError(f"entry {name!r}: '..' escapes the target directory")
    # A symlink already inside dest (e.g. planted by an earlier pull) must not redirect a write: check the
    # unresolved components before resolving, so a link that points back inside dest is refused too.
    lexical = dest
    for part in (p for p in name.split("/") if p not in ("", ".")):
        lexical = lexical / part
        if lexical.is_symlink():
            raise UnsafeArchiveError(f"entry {name!r}: {lexical} is a symlink; refusing to write through it")
    target = lexical.resolve()
    if target != dest and dest not in target.parents:
        raise UnsafeArchiveError(f"entry {name!r}: resolves outside {dest}")
    return target


def _plan(archive: tarfile.TarFile, dest: Path) -> list[tuple[tarfile.TarInfo, Path]]:
    """Every file entry and where it goes; raises before anything is written if any entry is unsafe."""
    plan = []
    for member in archive.getmembers():
        if member.isdir():
            _target(dest, member.name)
            continue
        if not member.isfile():
            raise UnsafeArchiveError(f"entry {member.name!r}: not a regular file (links and devices refused)")
        plan.append((member, _target(dest, member.name)))
    files = {target for _, target in plan}
    for member, target in plan:
        clash = next((p for p in target.parents if p in files), None)
        blocked = next((p for p in target.parents if dest in p.parents and p.exists() and not p.is_dir()), None)
        clash = clash or blocked
        if clash is not None or (target.exists() and not target.is_file()):
            raise UnsafeArchiveError(f"entry {member.name!r}: {clash or target} is both a file and a directory")
    return plan


def safe_extract(data: bytes, dest: Path) -> list[Path]:
    """Extract a snapshot tar.gz into ``dest``; checks every entry before writing any. Returns files written."""
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, EOFError, OSError) as err:
        raise UnsafeArchiveError(f"not a readable tar(.gz) archive: {err}") from None
    with archive:
        plan = _plan(archive, dest)
        written = []
        for member, target in plan:
            source = archive.extractfile(member)
            try:  # never through a link planted in dest meanwhile (dest may be an agent's workspace)
                write_agent_file(dest, target.relative_to(dest).as_posix(),
                                 source.read() if source is not None else b"",
                                 mode=0o755 if member.mode & 0o111 else 0o644)
            except UnsafeAgentFile as err:
                raise UnsafeArchiveError(f"entry {member.name!r}: {err}") from None
            written.append(target)
    return written
