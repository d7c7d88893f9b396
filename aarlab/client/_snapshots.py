"""Client side of the code store: pack a workspace directory, and extract a snapshot without escaping the target.

Extraction trusts nothing in the archive: every entry must be a regular file (or directory) whose normalised
relative path resolves inside the target directory; otherwise nothing is written and the entry is named.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path


class UnsafeArchiveError(ValueError):
    """An archive entry would escape the target directory or is not a regular file."""


def pack_directory(directory: Path, *, exclude: tuple[str, ...] = (".git", "__pycache__", ".venv")) -> bytes:
    """A tar.gz of the regular files under ``directory`` (paths relative to it). Symlinks are refused."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in exclude)
            linked = next((d for d in dirs if (Path(root) / d).is_symlink()), None)
            if linked is not None:  # os.walk would skip it silently; say so instead
                rel = (Path(root) / linked).relative_to(directory).as_posix()
                raise UnsafeArchiveError(f"{rel}: symlinked directories cannot be pushed (copy it instead)")
            for name in sorted(files):
                path = Path(root) / name
                rel = path.relative_to(directory).as_posix()
                if path.is_symlink():
                    raise UnsafeArchiveError(f"{rel}: symlinks cannot be pushed (copy the file instead)")
                info = archive.gettarinfo(str(path), arcname=rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                with path.open("rb") as fh:
                    archive.addfile(info, fh)
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
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            target.write_bytes(source.read() if source is not None else b"")
            target.chmod(0o755 if member.mode & 0o111 else 0o644)
            written.append(target)
    return written
