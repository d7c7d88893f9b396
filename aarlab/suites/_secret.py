"""A suite's build secret: drawn once at build time, kept with the ground truth as ``<suite root>/build_secret``
(mode 0600), mixed into every random draw that decides a label. The suite file's seeds alone reproduce no label,
and the file is never mounted in an agent's sandbox (docs/sandbox.md)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from pathlib import Path

from aarlab.suites._build import SuiteBuildError

SECRET_FILE = "build_secret"
_FORMAT = re.compile(r"[0-9a-f]{32,128}")


class BuildSecretError(SuiteBuildError):
    """The build secret file exists but cannot be used; the message says what to do."""


def load_or_create_build_secret(root: Path) -> str:
    """The secret in ``root/build_secret`` when present (a rebuild reproduces the suite), else a new one
    (``secrets.token_hex(32)``) written there with mode 0600. Refuses a link or a non-regular file."""
    secret = read_build_secret(root)
    return _create(Path(root) / SECRET_FILE) if secret is None else secret


def read_build_secret(root: Path) -> str | None:
    """The secret in ``root/build_secret`` (its mode made 0600), or None when there is none; refuses a link, a
    non-regular file or a malformed secret (:class:`BuildSecretError`, saying what to do)."""
    path = Path(root) / SECRET_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise BuildSecretError(f"{path} cannot be read as the suite's build secret ({err.strerror}); it must be "
                               "a regular file, not a link: remove it to draw a new secret (labels will change)"
                               ) from None
    with os.fdopen(fd) as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise BuildSecretError(f"{path} is not a regular file; remove it to draw a new build secret")
        secret = f.read(512).strip()
    if not _FORMAT.fullmatch(secret):
        raise BuildSecretError(f"{path}: expected 32-128 lowercase hex digits (from secrets.token_hex), found "
                               f"{len(secret)} characters of another form; fix the file or delete it to draw a new "
                               "secret (the suite's labels will change)")
    os.chmod(path, 0o600)
    return secret


def secret_fingerprint(secret: str) -> str:
    """A short public name for a secret (the first 16 hex digits of its SHA-256): lets a build report say which
    world it refused without revealing the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret
