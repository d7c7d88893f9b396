"""The scoring service's tables and database connections (SQLite in WAL mode by default, PostgreSQL by URL).

Every state change goes through :attr:`Database.writer`, whose transactions take the write lock up front
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` of the audit head on PostgreSQL), so the audit chain,
budgets and the campaign state are always read and changed by one transaction at a time.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    column,
    create_engine,
    event,
    table,
)
from sqlalchemy.engine import make_url

metadata = MetaData()

#: key/value facts fixed at first start: suite, state id, split fraction, finalized_at.
meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(4096), nullable=False),
)

agents = Table(
    "agents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("budget", Integer, nullable=True),  # None: the server's default budget
    Column("created_at", String(40), nullable=False),
    Column("audit_seq", Integer, nullable=False),
)

#: Datasets and their fixed baselines: written once at import, never updated.
datasets = Table(
    "datasets", metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("n_test", Integer, nullable=False),
    Column("n_public", Integer, nullable=False),
    Column("weak_acc", Float, nullable=False),
    Column("strong_acc", Float, nullable=False),
    Column("baseline_version", String(128), nullable=False),
    Column("labels_sha256", String(64), nullable=False),
)

#: Ground truth of the test splits, with the secret public/private assignment.
test_labels = Table(
    "test_labels", metadata,
    Column("dataset", String(64), ForeignKey("datasets.name"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("example_id", String(256), nullable=False),
    Column("positive", Boolean, nullable=False),
    Column("public", Boolean, nullable=False),
    UniqueConstraint("dataset", "example_id"),
)

submissions = Table(
    "submissions", metadata,
    Column("id", String(40), primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False, index=True),
    Column("dataset", String(64), ForeignKey("datasets.name"), nullable=False),
    Column("method", String(100), nullable=False),
    Column("predictions_sha256", String(64), nullable=False),
    Column("predictions", LargeBinary, nullable=False),  # float64 little-endian, in test_labels.position order
    Column("public_transfer_acc", Float, nullable=False),  # already rounded to SCORE_STEP
    Column("public_pgr", Float, nullable=True),  # None when the suite has no weak-to-strong gap
    Column("created_at", String(40), nullable=False),
    Column("receipt", String(64), nullable=False),
    Column("audit_seq", Integer, nullable=False, unique=True),
)

#: Evaluations used per agent and dataset (the budget counter).
usage = Table(
    "usage", metadata,
    Column("agent_id", Integer, ForeignKey("agents.id"), primary_key=True),
    Column("dataset", String(64), primary_key=True),
    Column("used", Integer, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("time", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

#: One row (id = 1): the last audit record. Locking it serializes every state change.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

#: The final table, written once by ``finalize``.
final_results = Table(
    "final_results", metadata,
    Column("agent", String(64), primary_key=True),
    Column("method", String(100), primary_key=True),
    Column("dataset", String(64), primary_key=True),
    Column("submission_id", String(40), nullable=False),
    Column("public_transfer_acc", Float, nullable=False),
    Column("private_transfer_acc", Float, nullable=False),
    Column("private_pgr", Float, nullable=True),
    Column("evaluations", Integer, nullable=False),
)


# --- code store and forum ------------------------------------------------------------------------------------------

#: A stored snapshot (content-addressed: identical content pushed twice is one snapshot with two pushes).
snapshots = Table(
    "snapshots", metadata,
    Column("id", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("files", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
)

#: Who pushed which snapshot when, and on top of which parent; keyed by the push's audit record.
snapshot_pushes = Table(
    "snapshot_pushes", metadata,
    Column("audit_seq", Integer, primary_key=True, autoincrement=False),
    Column("snapshot_id", String(64), ForeignKey("snapshots.id"), nullable=False, index=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False, index=True),
    Column("parent", String(64), nullable=True),
    Column("created_at", String(40), nullable=False),
)

#: Forum posts. ``id`` is the seq of the audit record that created the post; ``seq`` that of the last record that
#: changed it (create, edit, vote): the incremental-sync cursor. ``verified_*`` are copied from the cited submission.
posts = Table(
    "posts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("tags", String(512), nullable=False),  # space-separated, for search and display
    Column("parent_id", Integer, ForeignKey("posts.id"), nullable=True, index=True),
    Column("reply_count", Integer, nullable=False),
    Column("up", Integer, nullable=False),
    Column("down", Integer, nullable=False),
    Column("score", Integer, nullable=False, index=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("edited_at", String(40), nullable=True),
    Column("submission_id", String(40), ForeignKey("submissions.id"), nullable=True),
    Column("receipt", String(64), nullable=True),
    Column("snapshot_id", String(64), ForeignKey("snapshots.id"), nullable=True),
    Column("verified_dataset", String(64), nullable=True, index=True),
    Column("verified_method", String(100), nullable=True, index=True),
    Column("verified_public_transfer_acc", Float, nullable=True),
    Column("verified_public_pgr", Float, nullable=True, index=True),
)

post_tags = Table(
    "post_tags", metadata,
    Column("post_id", Integer, ForeignKey("posts.id"), primary_key=True),
    Column("tag", String(40), primary_key=True, index=True),
)

#: Earlier versions of edited posts (version 1 is the original).
post_versions = Table(
    "post_versions", metadata,
    Column("post_id", Integer, ForeignKey("posts.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("tags", String(512), nullable=False),
    Column("created_at", String(40), nullable=False),
)

#: One vote per agent per post: +1 or -1 (a 0 vote deletes the row).
votes = Table(
    "votes", metadata,
    Column("post_id", Integer, ForeignKey("posts.id"), primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("audit_seq", Integer, nullable=False),
)

# --- operator control of agents (pause / resume / stop, messages, budgets) -----------------------------------------

#: One row per agent the operator has acted on (no row: ``running``, no dollar budget). ``audit_seq`` is the
#: record of the last change.
agent_controls = Table(
    "agent_controls", metadata,
    Column("agent_id", Integer, ForeignKey("agents.id"), primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False, default="running"),
    Column("budget_usd", Float, nullable=True),
    Column("updated_at", String(40), nullable=False),
    Column("audit_seq", Integer, nullable=False),
)

#: Operator messages to agents. ``id`` is the seq of the audit record that created the message, so ids grow.
agent_messages = Table(
    "agent_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(64), nullable=False),
)

#: Every control action as its audit payload (canonical JSON), keyed by its record: ``audit verify`` recomputes
#: the payload hashes from here and learns the budget an agent was created with.
control_log = Table(
    "control_log", metadata,
    Column("audit_seq", Integer, primary_key=True, autoincrement=False),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("payload", Text, nullable=False),
)


#: SQLite's full-text index of posts (rowid = post id), kept in step by the forum's state changes. Not in
#: ``metadata``: created by the DDL below. PostgreSQL instead indexes :data:`PG_POST_DOCUMENT` with GIN.
posts_fts = table("posts_fts", column("rowid"), column("title"), column("body"), column("tags"))
PG_POST_DOCUMENT = "to_tsvector('english', posts.title || ' ' || posts.body || ' ' || posts.tags)"
event.listen(posts, "after_create", DDL(
    "CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(title, body, tags, tokenize='porter unicode61')"
).execute_if(dialect="sqlite"))
event.listen(posts, "after_create", DDL(
    "CREATE INDEX IF NOT EXISTS posts_search ON posts USING GIN "
    "(to_tsvector('english', title || ' ' || body || ' ' || tags))"
).execute_if(dialect="postgresql"))


@dataclass(frozen=True)
class Database:
    """The two engines of one database: ``writer`` for state changes, ``reader`` for queries."""

    url: str
    writer: Engine
    reader: Engine

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Serialize writers across processes before they begin (SQLite only; PostgreSQL locks rows itself).

        SQLite's own busy handler sleeps and polls, which gives seconds-long tails when several server processes
        share one database; a blocking ``flock`` wakes the next writer as soon as the lock is free.
        """
        path = make_url(self.url).database
        if not self.is_sqlite or not path or path == ":memory:":
            yield
            return
        fd = os.open(f"{path}-writelock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    @property
    def is_sqlite(self) -> bool:
        """Whether this is a SQLite database (a file in the state dir)."""
        return self.writer.dialect.name == "sqlite"

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, says when transactions begin
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it returns: a 2xx is durable
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def open_database(url: str) -> Database:
    """Connect to a database by SQLAlchemy URL and create missing tables."""
    if url.startswith("sqlite"):
        writer = _sqlite_engine(url, immediate=True)
        reader = _sqlite_engine(url, immediate=False)
    else:
        writer = create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8)
        reader = writer
    metadata.create_all(writer)
    return Database(url=url, writer=writer, reader=reader)


#: Each audit record's payload as canonical JSON, written with the record (records from before this table have
#: none). ``audit verify`` checks it against the record's payload hash, re-derives it from the rows the record
#: covers and compares them column by column, and replays it where rows keep only the latest state (votes).
audit_payloads = Table(
    "audit_payloads", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("payload", Text, nullable=False),
)

#: Promotions by clean re-run (``aarlab promote``): written once, when a promotion completes (``promoted``) or
#: fails after it started (``failed``, with the reason); never half-written. ``result`` is the promotion's numbers
#: as canonical JSON (paired comparison with vanilla, label-dependence ablation, held-out PGR, flags).
promotions = Table(
    "promotions", metadata,
    Column("id", String(40), primary_key=True),
    Column("submission_id", String(40), ForeignKey("submissions.id"), nullable=False, index=True),
    Column("agent", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("method", String(100), nullable=False),
    Column("snapshot_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lane", String(16), nullable=False),
    Column("seeds", String(256), nullable=False),  # JSON list
    Column("private_transfer_acc", Float, nullable=True),
    Column("private_pgr", Float, nullable=True),
    Column("held_out_ratio", Float, nullable=True),
    Column("flags", String(512), nullable=False),  # JSON list
    Column("result", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("audit_seq", Integer, nullable=False, unique=True),
)

#: Promotions asked for (admin route, campaign end) and not yet run; the promote worker takes them in order.
promotion_requests = Table(
    "promotion_requests", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", String(40), ForeignKey("submissions.id"), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", String(40), nullable=False),
    Column("state", String(16), nullable=False),  # queued | running | done
    Column("promotion_id", String(40), nullable=True),
)

#: The Ladder of public feedback: one row per submission that raised its agent's public score on a dataset
#: (docs/scoring.md). ``public_acc`` is the exact public accuracy, server-side only; ``level`` what was reported.
public_ladder = Table(
    "public_ladder", metadata,
    Column("submission_id", String(40), ForeignKey("submissions.id"), primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False, index=True),
    Column("dataset", String(64), nullable=False),
    Column("public_acc", Float, nullable=False),
    Column("level", Float, nullable=False),
)

#: What each agent has learnt from the Ladder on each dataset, in bits (``ladder_charge``): once ``bits`` would pass
#: the settings' ``ladder_bits`` the agent's public score on the dataset freezes (``frozen_by`` names the submission
#: that would have passed it) and no later submission of that agent on that dataset moves it.
ladder_budget = Table(
    "ladder_budget", metadata,
    Column("agent_id", Integer, ForeignKey("agents.id"), primary_key=True),
    Column("dataset", String(64), primary_key=True),
    Column("bits", Float, nullable=False),
    Column("frozen_by", String(40), nullable=True),
)

#: Label-free shortcut predictions per dataset (aarlab.w2s.shortcuts), computed at import from the agent-visible
#: inputs; ``public_acc`` is the shortcut's accuracy on the public rows where it has an opinion, rounded to 0.01.
shortcut_references = Table(
    "shortcut_references", metadata,
    Column("dataset", String(64), ForeignKey("datasets.name"), primary_key=True),
    Column("shortcut", String(64), primary_key=True),
    Column("predictions", LargeBinary, nullable=False),  # float64 LE P(positive) in position order; 0.5 = no opinion
    Column("public_acc", Float, nullable=False),
    Column("n_opinion", Integer, nullable=False),
)

#: Integrity flags of a submission (aarlab/server/_integrity.py), stored in the transaction that stores it.
submission_flags = Table(
    "submission_flags", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", String(40), ForeignKey("submissions.id"), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON object of numbers and strings
)

#: sha256 of each submission's hard predictions, to flag another agent's replay of them.
submission_fingerprints = Table(
    "submission_fingerprints", metadata,
    Column("submission_id", String(40), ForeignKey("submissions.id"), primary_key=True),
    Column("dataset", String(64), nullable=False),
    Column("agent_id", Integer, ForeignKey("agents.id"), nullable=False),
    Column("hard_sha256", String(64), nullable=False, index=True),
)
