"""The audit chain: every state change is linked; `verify` finds the first broken link or tampered row."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, select, update

from aarlab.server import State, open_state, verify_chain
from aarlab.server._audit import GENESIS_HASH, record_hash
from aarlab.server._db import audit_log, datasets, submissions, test_labels
from tests.server.conftest import RunningServer
from tests.server.helpers import constant


@pytest.fixture
def busy_state(make_server: Callable[..., RunningServer]) -> Iterator[State]:
    """A state dir after some activity (2 agents, 4 submissions), with its server stopped."""
    server = make_server()
    for _ in range(2):
        with server.client(server.add_agent()) as client:
            client.submit("math", constant(server.ids("math"), 0.6))
            client.submit("chat", constant(server.ids("chat"), 0.4))
    server.stop()
    state = open_state(server.state)
    yield state
    state.db.dispose()


def _seq_of(state: State, action: str, nth: int = 0) -> int:
    with state.db.reader.connect() as conn:
        return conn.execute(select(audit_log.c.seq).where(audit_log.c.action == action)
                            .order_by(audit_log.c.seq)).all()[nth].seq


def test_an_untampered_chain_verifies(busy_state: State) -> None:
    report = verify_chain(busy_state.db)
    # state.init + admin + 2 agents + 4 submissions
    assert report.ok and report.records == 8


def test_every_record_hash_covers_the_previous_one(busy_state: State) -> None:
    with busy_state.db.reader.connect() as conn:
        records = conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings().all()
    prev = GENESIS_HASH
    for r in records:
        assert r["prev_hash"] == prev
        assert r["hash"] == record_hash(r["seq"], r["time"], r["actor"], r["action"], r["payload_sha256"], prev)
        prev = r["hash"]


def test_an_edited_record_is_reported_as_the_first_broken_link(busy_state: State) -> None:
    seq = _seq_of(busy_state, "submission.create", 1)
    with busy_state.db.writer.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(actor="someone-else"))
    report = verify_chain(busy_state.db)
    assert report.first_broken == seq and "hash" in (report.reason or "")


def test_a_rewritten_score_is_detected_even_if_the_chain_is_intact(busy_state: State) -> None:
    with busy_state.db.writer.begin() as conn:
        target = conn.execute(select(submissions.c.id, submissions.c.audit_seq)).first()
        conn.execute(update(submissions).where(submissions.c.id == target.id).values(public_transfer_acc=0.99))
    report = verify_chain(busy_state.db)
    assert report.first_broken == target.audit_seq and target.id in (report.reason or "")


def test_a_deleted_last_record_is_detected(busy_state: State) -> None:
    with busy_state.db.writer.begin() as conn:
        last = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq.desc())).first().seq
        conn.execute(delete(audit_log).where(audit_log.c.seq == last))
    assert not verify_chain(busy_state.db).ok


def test_edited_ground_truth_or_baselines_are_detected(busy_state: State) -> None:
    with busy_state.db.writer.begin() as conn:
        conn.execute(update(test_labels).where(test_labels.c.dataset == "math", test_labels.c.position == 0)
                     .values(positive=~test_labels.c.positive))
    assert verify_chain(busy_state.db).first_broken == _seq_of(busy_state, "state.init")
    with busy_state.db.writer.begin() as conn:
        conn.execute(update(test_labels).where(test_labels.c.dataset == "math", test_labels.c.position == 0)
                     .values(positive=~test_labels.c.positive))
        conn.execute(update(datasets).where(datasets.c.name == "chat").values(weak_acc=0.1))
    assert "state.init" in (verify_chain(busy_state.db).reason or "")
