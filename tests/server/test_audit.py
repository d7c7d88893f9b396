"""The audit chain: every state change is linked; `verify` finds the first broken link or tampered row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from aarlab.cli import app
from aarlab.server import AuditAnchor, State, add_agent, export_anchor, finalize, open_state, verify_chain
from aarlab.server._audit import GENESIS_HASH, canonical_json, record_hash, sha256_hex, submission_payload
from aarlab.server._db import (
    agents,
    audit_head,
    audit_log,
    audit_payloads,
    datasets,
    submissions,
    test_labels,
)
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
    # state.init + admin + scoring.settings (at start) + 2 agents + 4 submissions
    assert report.ok and report.records == 9


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
    report = verify_chain(busy_state.db)
    assert report.action == "state.init" and "datasets.chat.weak_acc is 0.1" in (report.reason or "")


def _rehash_after_rewriting(state: State, column: str, value: object) -> int:
    """Rewrite one column of the first submission, then recompute its payload and every hash with the public
    algorithm, as someone holding the database could; returns the rewritten record's seq."""
    with state.db.writer.begin() as conn:
        sub = conn.execute(select(submissions, agents.c.name).join(agents)
                           .order_by(submissions.c.audit_seq)).mappings().first()
        seq = sub["audit_seq"]
        conn.execute(update(submissions).where(submissions.c.id == sub["id"]).values({column: value}))
        payload = canonical_json(submission_payload({**sub, column: value}, sub["name"]))
        conn.execute(update(audit_payloads).where(audit_payloads.c.seq == seq).values(payload=payload.decode()))
        conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(payload_sha256=sha256_hex(payload)))
        prev = GENESIS_HASH
        for r in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings().all():
            new = record_hash(r["seq"], r["time"], r["actor"], r["action"], r["payload_sha256"], prev)
            conn.execute(update(audit_log).where(audit_log.c.seq == r["seq"]).values(prev_hash=prev, hash=new))
            prev = new
        conn.execute(update(audit_head).values(hash=prev))
    return seq


def _rehash_after_rewriting_a_method(state: State) -> int:
    """A re-hashed rewrite that only the anchor can tell: the method name a submission was stored under."""
    return _rehash_after_rewriting(state, "method", "someone-elses-idea")


def test_a_re_hashed_score_is_caught_without_an_anchor_by_replaying_the_ladder(busy_state: State) -> None:
    seq = _rehash_after_rewriting(busy_state, "public_transfer_acc", 0.99)
    report = verify_chain(busy_state.db)
    assert report.first_broken == seq and "replaying the Ladder" in (report.reason or "")


def test_a_re_hashed_chain_passes_alone_but_fails_against_the_exported_head(busy_state: State) -> None:
    anchor = export_anchor(busy_state.db)
    assert verify_chain(busy_state.db, anchor).ok
    seq = _rehash_after_rewriting_a_method(busy_state)
    assert verify_chain(busy_state.db).ok  # the public algorithm alone cannot tell
    report = verify_chain(busy_state.db, anchor)
    assert (report.first_broken, report.action) == (seq, "submission.create")
    assert "re-hashed" in (report.reason or "") and report.anchored


def test_a_chain_that_grew_after_the_export_still_matches_it(make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    state = open_state(server.state)
    try:
        anchor = export_anchor(state.db)
        with server.client(server.add_agent()) as client:
            client.submit("math", constant(server.ids("math"), 0.6))
        report = verify_chain(state.db, anchor)
        assert report.ok and report.records == anchor.seq + 2
    finally:
        state.db.dispose()


def test_a_truncated_chain_or_another_campaigns_anchor_fails(busy_state: State) -> None:
    add_agent(busy_state.path, "late")
    anchor = export_anchor(busy_state.db)
    other = AuditAnchor.model_validate({**anchor.model_dump(), "state_id": "0" * 32})
    assert "belongs to state id" in (verify_chain(busy_state.db, other).reason or "")
    with busy_state.db.writer.begin() as conn:  # remove the last change and its record, consistently
        last = conn.execute(select(agents.c.audit_seq).where(agents.c.name == "late")).scalar_one()
        conn.execute(delete(agents).where(agents.c.name == "late"))
        conn.execute(delete(audit_payloads).where(audit_payloads.c.seq == last))
        conn.execute(delete(audit_log).where(audit_log.c.seq == last))
        prev = conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == last - 1)).scalar_one()
        conn.execute(update(audit_head).values(seq=last - 1, hash=prev))
    assert verify_chain(busy_state.db).ok  # a consistent truncation: only the anchor knows
    report = verify_chain(busy_state.db, anchor)
    assert report.first_broken == last and "removed" in (report.reason or "")


def test_the_cli_exports_a_head_that_verify_then_holds_the_chain_to(busy_state: State, tmp_path: Path) -> None:
    runner, state = CliRunner(), str(busy_state.path)
    exported = runner.invoke(app, ["audit", "export-head", "--state", state])
    assert exported.exit_code == 0, exported.stderr
    head = tmp_path / "head.json"
    head.write_text(exported.stdout)
    ok = runner.invoke(app, ["audit", "verify", "--state", state, "--anchor", str(head)])
    assert ok.exit_code == 0 and "consistent with the anchor" in ok.stdout
    seq = _rehash_after_rewriting_a_method(busy_state)
    assert runner.invoke(app, ["audit", "verify", "--state", state]).exit_code == 0
    broken = runner.invoke(app, ["audit", "verify", "--state", state, "--anchor", str(head)])
    assert broken.exit_code == 1 and f"broken at record {seq} (submission.create)" in broken.stderr
    head.write_text("{}")
    bad = runner.invoke(app, ["audit", "verify", "--state", state, "--anchor", str(head)])
    assert bad.exit_code == 2 and "not a head file" in bad.stderr and bad.exception is not None


def test_finalize_leaves_the_head_it_closed_the_campaign_at(busy_state: State) -> None:
    finalize(busy_state.path)
    head = busy_state.path / "final" / "audit-head.json"
    anchor = AuditAnchor.model_validate_json(head.read_bytes())
    report = verify_chain(busy_state.db, anchor)
    assert report.ok and report.records == anchor.seq and (head.stat().st_mode & 0o077) == 0
