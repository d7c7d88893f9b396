"""How state changes are applied: inside a :class:`Change` that holds the audit chain's head.

Every change is a function of a :class:`Change`. It runs in a transaction that took the write lock first (the
chain head row, ``FOR UPDATE``; ``BEGIN IMMEDIATE`` on SQLite), so budgets, the campaign state and the chain
are read and changed by one transaction at a time, across processes too.

The server applies changes by *group commit*: one thread runs many changes per transaction and one fsync
covers the batch. Rows a change adds are queued (:meth:`Change.insert`) and written with one multi-row insert
per table at the end, so a change refused with an :class:`ApiError` is undone by dropping its queued rows; the
rule that makes this exact: **a change raises ApiError only before its first direct write**, and a change that
reads tables calls :meth:`Change.flush` first. Any other exception rolls the batch back and its changes are
retried one per transaction. Callers get their result only after the commit: an acknowledged change is durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.exc import DataError

from aarlab.server._audit import AuditRecord, ChainHead, canonical_json, lock_head, new_record, utc_now, write_head
from aarlab.server._db import Database, audit_log, audit_payloads, meta
from aarlab.server._errors import ApiError

T = TypeVar("T")
log = logging.getLogger("aarlab.server")
_FINALIZED = select(meta.c.value).where(meta.c.key == "finalized_at")


@dataclass
class Change:
    """An open state-changing transaction: its connection, the chain head and the campaign's finalized time."""

    conn: Connection
    head: ChainHead
    finalized_at: str | None
    pending: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)

    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Queue a row; it is written (in order) by :meth:`flush`, at the latest before the commit."""
        self.pending.append((table, row))

    def audit(self, actor: str, action: str, payload: Mapping[str, Any], *, time: str | None = None) -> AuditRecord:
        """Queue the audit record of this change (same transaction, so both commit or neither)."""
        record = new_record(self.head, actor, action, payload, time or utc_now())
        self.insert(audit_log, asdict(record))
        self.insert(audit_payloads, {"seq": record.seq, "payload": canonical_json(payload).decode()})
        self.head = ChainHead(record.seq, record.hash)
        return record

    def flush(self) -> None:
        """Write queued rows: one multi-row insert per run of rows of the same table."""
        rows, self.pending = self.pending, []
        for table, group in groupby(rows, key=lambda item: item[0]):
            self.conn.execute(insert(table), [row for _, row in group])

    def _state(self) -> tuple[ChainHead, str | None, int]:
        return self.head, self.finalized_at, len(self.pending)

    def _restore(self, state: tuple[ChainHead, str | None, int]) -> None:
        self.head, self.finalized_at, queued = state
        del self.pending[queued:]


@contextmanager
def changing(db: Database) -> Iterator[Change]:
    """A transaction for state changes outside the server (CLI); commits on success."""
    with db.write_lock(), db.writer.begin() as conn:
        change = Change(conn, lock_head(conn), conn.execute(_FINALIZED).scalar())
        yield change
        change.flush()
        write_head(conn, change.head)


@dataclass
class _Job:
    apply: Callable[[Change], Any]
    future: Future[Any]


class Writer:
    """The single writer thread of one server process; start it, submit changes, stop it."""

    def __init__(self, db: Database, max_batch: int = 64) -> None:
        self.db, self.max_batch = db, max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="aarlab-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish queued changes, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, apply: Callable[[Change], T]) -> Future[T]:
        """Queue a change; the future resolves after its transaction commits."""
        if self._thread is None:
            raise RuntimeError("the writer is not running (call start() first)")
        future: Future[T] = Future()
        self._queue.put(_Job(apply, future))
        return future

    async def apply(self, apply: Callable[[Change], T]) -> T:
        """Queue a change and await its committed result."""
        return await asyncio.wrap_future(self.submit(apply))

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(nxt)
            try:
                self._commit(batch)
            except Exception as err:
                if len(batch) == 1:
                    self._fail(batch[0], err)
                    continue
                log.exception("a batch of %d state changes failed; retrying them one by one", len(batch))
                for one in batch:
                    try:
                        self._commit([one])
                    except Exception as err:
                        self._fail(one, err)

    @staticmethod
    def _fail(job: _Job, err: BaseException | None = None) -> None:
        if isinstance(err, DataError):  # the database refused a value of the request: the client's input, a 422
            job.future.set_exception(ApiError(422, "the request holds a value the database cannot store (for "
                                              "example a NUL character in a string); nothing was recorded"))
            return
        log.exception("a state change failed")
        job.future.set_exception(ApiError(503, "the scoring database could not record this request; nothing "
                                          "was recorded, retry later"))

    def _commit(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        with changing(self.db) as change:
            for job in batch:
                before = change._state()
                try:
                    outcomes.append((True, job.apply(change)))
                except ApiError as err:  # refused: drop what it queued (it wrote nothing directly)
                    change._restore(before)
                    outcomes.append((False, err))
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
