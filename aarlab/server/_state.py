"""The server's state dir: where ground truth, secrets and (by default) the database live.

Layout (the directory is 0700, secret files 0600)::

    state.json      suite, database URL, public fraction, state id (an SQLite path is relative to the dir)
    secret.key      the secret that decides the public/private split
    admin.token     the admin bearer token (the database keeps only its hash)
    scoring.db      the SQLite database (unless --db names another)
    server.lock     held by the running server
    final/leaderboard.json   written by `aarlab server finalize`
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select

from aarlab.server._audit import AUDIT_PAYLOADS_SINCE, agent_payload, init_payload, sha256_hex, utc_now
from aarlab.server._db import Database, agents, meta, open_database
from aarlab.server._errors import ApiError
from aarlab.server._writer import Change, changing

ADMIN_NAME = "admin"


class StateError(RuntimeError):
    """The state dir or its database is missing, inconsistent or busy; the message says what to do."""


class StateInfo(BaseModel):
    """``state.json``: facts fixed when the state dir was initialized."""

    model_config = ConfigDict(extra="forbid")

    state_id: str
    suite: str
    db_url: str
    public_fraction: float = Field(gt=0, lt=1)
    created_at: str
    initialized: bool = False


@dataclass(frozen=True)
class State:
    """An opened state dir: its facts and its database."""

    path: Path
    info: StateInfo
    db: Database


def new_token() -> str:
    """A fresh bearer token (256 bits of randomness)."""
    return "aar_" + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """What the database stores instead of a token."""
    return sha256_hex(token.encode())


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o600)


def _read_info(path: Path) -> StateInfo | None:
    file = path / "state.json"
    if not file.is_file():
        return None
    try:
        return StateInfo.model_validate_json(file.read_text())
    except ValidationError as err:
        raise StateError(f"{file}: not a valid aarlab state file ({err.errors()[0]['msg']}); "
                         "restore it from a backup or start a new state dir") from None


def _write_info(path: Path, info: StateInfo) -> None:
    _write_private(path / "state.json.tmp", info.model_dump_json(indent=2))
    os.replace(path / "state.json.tmp", path / "state.json")


def create_agent_change(name: str, token: str, budget: int | None, *, actor: str,
                        is_admin: bool = False) -> Callable[[Change], dict[str, Any]]:
    """A state change that adds an agent (refused with a 409 if the name is taken)."""

    def apply(change: Change) -> dict[str, Any]:
        change.flush()  # it reads agents
        if change.conn.execute(select(agents.c.id).where(agents.c.name == name)).first() is not None:
            raise ApiError(409, f"an agent named {name!r} already exists; pick another name")
        created = utc_now()
        row: dict[str, Any] = {"name": name, "token_sha256": token_sha256(token), "is_admin": is_admin,
                               "budget": budget, "created_at": created}
        record = change.audit(actor, "agent.create", agent_payload(row), time=created)
        change.insert(agents, {**row, "audit_seq": record.seq})
        return row

    return apply


def _import(db: Database, info: StateInfo, home: Path, secret: bytes, admin_token: str) -> None:
    from aarlab.server._scoring import import_ground_truth

    with changing(db) as change:
        conn = change.conn
        if conn.execute(select(meta.c.value).where(meta.c.key == "state_id")).first() is not None:
            raise StateError(f"database {_safe_url(db.url)} already holds another campaign's state; "
                             "give an empty database with --db")
        conn.execute(insert(meta), [{"key": "state_id", "value": info.state_id},
                                    {"key": "suite", "value": info.suite},
                                    {"key": "public_fraction", "value": repr(info.public_fraction)},
                                    {"key": AUDIT_PAYLOADS_SINCE, "value": "1"}])  # every record stores its payload
        rows = import_ground_truth(conn, home, info.suite, secret, info.public_fraction)
        change.audit(ADMIN_NAME, "state.init", init_payload(info.suite, rows))
        create_agent_change(ADMIN_NAME, admin_token, None, actor=ADMIN_NAME, is_admin=True)(change)


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def init_state(path: Path | str, *, suite: str, home: Path | str | None = None, db_url: str | None = None,
               public_fraction: float = 0.5) -> State:
    """Open a state dir, initializing it on first use: import ground truth, fix baselines, create the admin."""
    from aarlab.home import resolve_home
    from aarlab.suites import SuiteNotBuiltError
    from aarlab.w2s.data import DatasetError

    path = Path(path).expanduser().resolve()
    suite = _suite_name(suite)
    info = _read_info(path)
    if info is not None and info.initialized:
        if info.suite != suite:
            raise StateError(f"state dir {path} holds suite {info.suite!r}, not {suite!r}; "
                             "use another --state for another suite")
        if db_url is not None and _stored_url(path, db_url) != info.db_url:
            raise StateError(f"state dir {path} uses database {_safe_url(info.db_url)}, not {_safe_url(db_url)}; "
                             "omit --db or use another --state")
        return open_state(path)
    if not 0 < public_fraction < 1:
        raise StateError(f"public fraction must be strictly between 0 and 1, found {public_fraction}")
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    if info is None:
        info = StateInfo(state_id=secrets.token_hex(16), suite=suite, db_url=_stored_url(path, db_url),
                         public_fraction=public_fraction, created_at=utc_now())
        if not (path / "secret.key").is_file():  # an operator may provide one to reproduce a split
            _write_private(path / "secret.key", secrets.token_hex(32))
        _write_info(path, info)
    db = open_database(database_url(path, info))
    if (path / "scoring.db").exists():
        os.chmod(path / "scoring.db", 0o600)  # its WAL and shared-memory files take the same mode
    try:
        if _db_state_id(db) != info.state_id:  # else: an earlier init committed but died before marking it
            admin_token = new_token()  # written before the import commits, so a crash cannot lose it
            _write_private(path / "admin.token", admin_token + "\n")
            _import(db, info, resolve_home(home), _secret(path), admin_token)
    except (SuiteNotBuiltError, DatasetError) as err:
        db.dispose()
        raise StateError(f"cannot import ground truth of suite {suite!r}: {err}") from None
    except BaseException:
        db.dispose()
        raise
    info = info.model_copy(update={"initialized": True})
    _write_info(path, info)
    return State(path, info, db)


def _suite_name(suite: str) -> str:
    """The name of ``suite``: a built-in name as given, or the name inside a suite file (``FILE.toml``), as
    ``aarlab w2s run --suite`` accepts either; the suite's artifacts live in the home under that name."""
    if not suite.endswith(".toml"):
        return suite
    from aarlab.suites import SuiteError, parse_suite_file

    try:
        return parse_suite_file(Path(suite).expanduser()).name
    except SuiteError as err:
        raise StateError(str(err)) from None


STATE_DB_URL = "sqlite:///scoring.db"  # relative: the dir's own database, wherever the dir is moved or copied


def _sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL as written (maybe relative); None for other databases and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _stored_url(path: Path, db_url: str | None) -> str:
    """What ``state.json`` records for ``--db`` (None: the default database in the state dir).

    An SQLite file is stored relative to the state dir, so a copied dir opens its own copy; one outside the dir is
    refused (a copy of the dir would share it). Other URLs (PostgreSQL) are stored as given.
    """
    if db_url is None:
        return STATE_DB_URL
    file = _sqlite_path(db_url)
    if file is None:
        return db_url
    file = file.expanduser().resolve()  # as SQLAlchemy reads it: relative to the working directory
    if not file.is_relative_to(path):
        raise StateError(f"--db {db_url}: an SQLite database must live in the state dir {path} (copying the dir "
                         "then copies it); omit --db for the default, or give a PostgreSQL URL for a shared database")
    return f"sqlite:///{file.relative_to(path)}"


def database_url(path: Path, info: StateInfo) -> str:
    """The URL to open for state dir ``path``: a relative SQLite path is resolved inside the dir.

    State dirs written before paths were relative hold an absolute SQLite path; one outside ``path`` is refused,
    since a copied or moved state dir would otherwise read (and write) the original's database.
    """
    file = _sqlite_path(info.db_url)
    if file is None:
        return info.db_url
    if not file.is_absolute():
        return f"sqlite:///{path / file}"
    if not file.resolve().is_relative_to(path):
        raise StateError(f"state dir {path} names the SQLite database {file}, which lies outside it (was the dir "
                         f"copied or moved from {file.parent}?). To use this dir's own copy, set \"db_url\" in "
                         f"{path / 'state.json'} to \"{STATE_DB_URL}\"; to check the original, pass --state "
                         f"{file.parent}")
    return info.db_url


def _secret(path: Path) -> bytes:
    return bytes.fromhex((path / "secret.key").read_text().strip())


def _db_state_id(db: Database) -> str | None:
    with db.reader.connect() as conn:
        return conn.execute(select(meta.c.value).where(meta.c.key == "state_id")).scalar()


def is_initialized(path: Path | str) -> bool:
    """Whether ``path`` is a state dir whose initialization finished (raises :class:`StateError` if unreadable)."""
    return initialized_suite(path) is not None


def initialized_suite(path: Path | str) -> str | None:
    """The suite an initialized state dir holds; None when ``path`` is not one (:class:`StateError` if unreadable)."""
    info = _read_info(Path(path).expanduser().resolve())
    return info.suite if info is not None and info.initialized else None


def open_state(path: Path | str) -> State:
    """Open an initialized state dir and its database (checking that they belong together)."""
    path = Path(path).expanduser().resolve()
    info = _read_info(path)
    if info is None or not info.initialized:
        raise StateError(f"{path} is not an initialized aarlab state dir; run `aarlab server init --state {path}` "
                         "first")
    db = open_database(database_url(path, info))
    found = _db_state_id(db)
    if found != info.state_id:
        db.dispose()
        raise StateError(f"database {_safe_url(info.db_url)} does not hold the campaign of state dir {path} "
                         f"(state id {info.state_id}, found {found}); check the database URL")
    return State(path, info, db)


def read_admin_token(path: Path | str) -> str:
    """The admin token of a state dir."""
    file = Path(path).expanduser().resolve() / "admin.token"
    if not file.is_file():
        raise StateError(f"{file.parent} has no admin token; initialize it with `aarlab server init --state "
                         f"{file.parent}` first")
    return file.read_text().strip()


class ServerLock:
    """An exclusive lock on the state dir held while a server runs (released by the OS even on SIGKILL)."""

    def __init__(self, path: Path) -> None:
        self.path = path / "server.lock"
        self._fh: IO[str] | None = None

    def __enter__(self) -> ServerLock:
        fh = open(self.path, "a+")  # noqa: SIM115 - kept open for the lock's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "?"
            fh.close()
            raise StateError(f"another server (pid {owner}) is running on state dir {self.path.parent}; stop it "
                             "first or use another --state") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
