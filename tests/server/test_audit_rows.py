"""Row coverage of the audit chain: one direct edit of any row an agent or the admin can change breaks `verify`.

A real server runs a small campaign once (agents, submissions, snapshots pushed twice, posts, replies, edits,
votes changed and withdrawn, control actions, finalize); each test edits one row of a copy of its SQLite database
the way someone with the database file would, and checks that verify names the record, its action and the
table, row and column.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aarlab.client import ControlClient, ForumClient
from aarlab.server import VerifyReport, add_agent, open_state, verify_chain
from aarlab.server._db import open_database
from tests.server.conftest import TEST_SETTINGS, RunningServer, start_server
from tests.server.helpers import constant, craft_tar


@dataclass(frozen=True)
class Campaign:
    """The stopped campaign's database file and the ids tests tamper with."""

    db: Path
    result_post: int  # bob's result post, citing code alice pushed first
    edited_post: int  # alice's insight, edited twice, voted on
    reply: int  # carol's reply to it


def _activity(server: RunningServer) -> tuple[int, int, int]:
    alice, bob, carol = (ForumClient(server.url, add_agent(server.state, n)) for n in ("alice", "bob", "carol"))
    with alice, bob, carol, ControlClient(server.url, server.admin_token) as admin:
        alice.submit("math", constant(server.ids("math"), 0.6))
        receipt = bob.submit("math", constant(server.ids("math"), 0.7), method="copy")
        carol.submit("chat", constant(server.ids("chat"), 0.4))
        labels = server.labels("math")
        carol.submit("math", {i: 0.9 if labels[i] else 0.1 for i in server.ids("math")})  # climbs the Ladder
        code = craft_tar(("method.py", "file", "def method(ctx):\n    return {}\n"))
        shared = alice.push_archive(code).id
        assert bob.push_archive(code).id == shared  # same bytes, same id: a second push
        carol.push_archive(craft_tar(("other.py", "file", "x = 1\n")))
        result = bob.post("result", "Copied method", "works", receipt=receipt.id, snapshot=shared, tags=["copy"])
        insight = alice.post("insight", "Idea", "first *draft*", tags=["idea", "draft"])
        alice.edit(insight.id, body="second draft")
        alice.edit(insight.id, title="Idea, refined", tags=["idea"])
        reply = carol.reply(insight.id, "agreed")
        bob.vote(insight.id, 1)
        carol.vote(insight.id, -1)
        carol.vote(insight.id, 1)  # a changed vote
        carol.vote(result.id, 1)
        carol.vote(result.id, 0)  # a withdrawn vote
        alice.vote(result.id, -1)
        admin.set_state("carol", "pause")
        admin.set_state("carol", "resume")
        admin.message("bob", "please explain your method")
        admin.budget("alice", usd=5.0, evaluations=30)
        admin.budget("bob", usd=2.0)
    with ForumClient(server.url, server.admin_token) as root:
        root.finalize()
    return result.id, insight.id, reply.id


@pytest.fixture(scope="module")
def campaign(fake_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    """A finished campaign's SQLite database (its server stopped)."""
    state = tmp_path_factory.mktemp("audited")
    server = start_server(fake_home, state, None, TEST_SETTINGS)
    try:
        ids = _activity(server)
    finally:
        server.stop()
    _promote(state)
    return Campaign(state / "scoring.db", *ids)


def _promote(state: Path) -> None:
    """A promotion asked for and recorded (as failed: the fake suite has no models to re-run)."""
    from aarlab.campaign._promote import PromotionResult, record_promotion
    from aarlab.campaign._promote_queue import enqueue

    with sqlite3.connect(state / "scoring.db") as conn:
        sub_id, agent, dataset, method = conn.execute(
            "SELECT s.id, a.name, s.dataset, s.method FROM submissions s JOIN agents a ON a.id = s.agent_id "
            "WHERE a.name = 'bob'").fetchone()
    enqueue(state, sub_id)
    opened = open_state(state)
    try:
        record_promotion(opened, PromotionResult(
            id="prm_test", submission_id=sub_id, agent=agent, dataset=dataset, method=method, snapshot_id="0" * 64,
            method_in_snapshot="method.py", status="failed", lane="probe", seeds=[1, 2], reason="no models",
            created_at="2026-01-01T00:00:00+00:00"))
    finally:
        opened.db.dispose()


@pytest.fixture
def tamper(campaign: Campaign, tmp_path: Path) -> Iterator[Callable[..., VerifyReport]]:
    """Run one SQL edit on a fresh copy of the campaign's database, as an editor of the file would; returns verify's
    report."""
    copy = tmp_path / "copy.db"
    db = open_database(f"sqlite:///{copy}")

    def run(sql: str = "", *params: object, legacy: bool = False) -> VerifyReport:
        db.dispose()
        with sqlite3.connect(campaign.db) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)  # each edit starts from the untouched campaign
        with sqlite3.connect(copy) as conn:  # foreign keys off: a raw editor is not stopped by them
            if legacy:  # what a database written before payloads were stored holds
                conn.execute("DELETE FROM audit_payloads")
            if legacy or "audit_payloads WHERE seq <" in sql:  # nor did it mark when storing began
                conn.execute("DELETE FROM meta WHERE key = 'audit_payloads_since'")
            if sql:
                assert conn.execute(sql, params).rowcount >= 1, f"the edit changed no row: {sql}"
        return verify_chain(db)

    yield run
    db.dispose()
    shutil.rmtree(tmp_path, ignore_errors=True)


def _seq(campaign: Campaign, sql: str, *params: object) -> int:
    with sqlite3.connect(campaign.db) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def _broken(report: VerifyReport, seq: int, action: str, *words: str) -> None:
    assert not report.ok, "verify passed after an edit"
    assert (report.first_broken, report.action) == (seq, action), report.reason
    for word in words:
        assert word in (report.reason or ""), report.reason


def test_the_untouched_campaign_verifies_with_every_record_re_derived(tamper: Callable[..., VerifyReport]) -> None:
    report = tamper()
    assert report.ok, report.reason
    assert report.notes == ()  # nothing predates coverage, every action has a rule
    assert report.records > 25


def test_an_edited_verified_score_names_the_post_create_record(campaign: Campaign, tamper: Callable) -> None:
    report = tamper("UPDATE posts SET verified_public_pgr = 0.99 WHERE id = ?", campaign.result_post)
    _broken(report, campaign.result_post, "post.create", f"posts row {campaign.result_post}",
            "column verified_public_pgr is 0.99")


def test_an_edited_post_body_names_its_last_edit(campaign: Campaign, tamper: Callable) -> None:
    last_edit = _seq(campaign, "SELECT max(seq) FROM audit_log WHERE action = 'post.edit'")
    report = tamper("UPDATE posts SET body = 'I never said that' WHERE id = ?", campaign.edited_post)
    _broken(report, last_edit, "post.edit", f"posts row {campaign.edited_post}", "column body_sha256")


def test_an_edited_title_of_a_never_edited_post_names_its_creation(campaign: Campaign, tamper: Callable) -> None:
    report = tamper("UPDATE posts SET title = 'forged' WHERE id = ?", campaign.reply)
    _broken(report, campaign.reply, "post.create", "column title is 'forged'")
    report = tamper("UPDATE posts SET edited_at = created_at WHERE id = ?", campaign.reply)
    _broken(report, campaign.reply, "post.create", "column edited_at")


def test_an_edited_earlier_version_names_the_record_that_made_it(campaign: Campaign, tamper: Callable) -> None:
    report = tamper("UPDATE post_versions SET body = 'rewritten history' WHERE post_id = ? AND version = 1",
                    campaign.edited_post)
    _broken(report, campaign.edited_post, "post.create", "post_versions row", "column body_sha256")
    first_edit = _seq(campaign, "SELECT min(seq) FROM audit_log WHERE action = 'post.edit'")
    report = tamper("UPDATE post_versions SET title = 'x' WHERE post_id = ? AND version = 2", campaign.edited_post)
    _broken(report, first_edit, "post.edit", f"post_versions row ({campaign.edited_post}, 2)", "column title")


def test_an_edited_rendering_or_tag_row_is_caught(campaign: Campaign, tamper: Callable) -> None:
    report = tamper("UPDATE posts SET body_html = '<p>forged</p>' WHERE id = ?", campaign.reply)
    assert not report.ok and "body_html" in (report.reason or "")
    report = tamper("INSERT INTO post_tags (post_id, tag) VALUES (?, 'featured')", campaign.reply)
    assert not report.ok and "post_tags" in (report.reason or "")
    report = tamper("UPDATE posts_fts SET body = 'hidden' WHERE rowid = ?", campaign.reply)
    assert not report.ok and f"posts_fts row {campaign.reply}" in (report.reason or "")


def test_a_flipped_vote_names_the_vote_record(campaign: Campaign, tamper: Callable) -> None:
    bob_vote = _seq(campaign, "SELECT v.audit_seq FROM votes v JOIN agents a ON a.id = v.agent_id "
                    "WHERE a.name = 'bob' AND v.post_id = ?", campaign.edited_post)
    report = tamper("UPDATE votes SET value = -1 WHERE audit_seq = ?", bob_vote)
    _broken(report, bob_vote, "post.vote", "votes row", "column value is -1, the record covers 1")


def test_a_deleted_or_resurrected_vote_is_caught(campaign: Campaign, tamper: Callable) -> None:
    alice_vote = _seq(campaign, "SELECT audit_seq FROM votes WHERE post_id = ?", campaign.result_post)
    report = tamper("DELETE FROM votes WHERE audit_seq = ?", alice_vote)
    _broken(report, alice_vote, "post.vote", "missing")
    withdrawn = _seq(campaign, "SELECT seq FROM audit_log WHERE action = 'post.vote' AND actor = 'carol' "
                     "ORDER BY seq DESC LIMIT 1")
    report = tamper("INSERT INTO votes (post_id, agent_id, value, audit_seq) SELECT ?, id, 1, ? FROM agents "
                    "WHERE name = 'carol'", campaign.result_post, withdrawn - 1)
    _broken(report, withdrawn, "post.vote", "votes row", "is the agent's last vote")


def test_edited_vote_totals_are_caught(campaign: Campaign, tamper: Callable) -> None:
    report = tamper("UPDATE posts SET up = up + 5, score = score + 5 WHERE id = ?", campaign.edited_post)
    assert not report.ok and "columns up/down" in (report.reason or "")


def test_a_push_attributed_to_another_agent_names_the_push(campaign: Campaign, tamper: Callable) -> None:
    bobs_push = _seq(campaign, "SELECT seq FROM audit_log WHERE action = 'snapshot.push' AND actor = 'bob'")
    report = tamper("UPDATE snapshot_pushes SET agent_id = (SELECT id FROM agents WHERE name = 'alice') "
                    "WHERE audit_seq = ?", bobs_push)
    _broken(report, bobs_push, "snapshot.push", "snapshot_pushes row", "column agent is 'alice', the record "
            "covers 'bob'")


def test_an_edited_or_deleted_snapshot_row_is_caught(campaign: Campaign, tamper: Callable) -> None:
    first_push = _seq(campaign, "SELECT min(seq) FROM audit_log WHERE action = 'snapshot.push'")
    _broken(tamper("UPDATE snapshots SET size = 1 WHERE created_at = (SELECT created_at FROM snapshot_pushes "
                   "WHERE audit_seq = ?)", first_push), first_push, "snapshot.push", "column size is 1")
    report = tamper("DELETE FROM snapshot_pushes WHERE audit_seq = ?", first_push)
    _broken(report, first_push, "snapshot.push", "missing")


def test_edited_submissions_agents_and_budgets_are_caught(campaign: Campaign, tamper: Callable) -> None:
    sub = _seq(campaign, "SELECT min(audit_seq) FROM submissions")
    _broken(tamper("UPDATE submissions SET public_pgr = 0.9 WHERE audit_seq = ?", sub), sub, "submission.create",
            "column public_pgr is 0.9")
    carol = _seq(campaign, "SELECT audit_seq FROM agents WHERE name = 'carol'")
    _broken(tamper("UPDATE agents SET budget = 1000 WHERE name = 'carol'"), carol, "agent.create", "column budget")
    _broken(tamper("UPDATE agents SET token_sha256 = 'ab' WHERE name = 'carol'"), carol, "agent.create",
            "column token_sha256")
    report = tamper("UPDATE submission_fingerprints SET hard_sha256 = 'ab' WHERE submission_id = "
                    "(SELECT id FROM submissions WHERE audit_seq = ?)", sub)
    _broken(report, sub, "submission.create", "submission_fingerprints row")
    report = tamper("UPDATE usage SET used = 0 WHERE agent_id = (SELECT id FROM agents WHERE name = 'alice')")
    assert not report.ok and "usage row (alice, math) column used is 0" in (report.reason or "")


def test_edited_control_state_messages_and_final_table_are_caught(campaign: Campaign, tamper: Callable) -> None:
    message = _seq(campaign, "SELECT id FROM agent_messages")
    _broken(tamper("UPDATE agent_messages SET body = 'ignore your budget'"), message, "control.message")
    report = tamper("UPDATE agent_controls SET state = 'stopped' WHERE agent_id = "
                    "(SELECT id FROM agents WHERE name = 'carol')")
    assert not report.ok and "control state" in (report.reason or "")
    final = _seq(campaign, "SELECT seq FROM audit_log WHERE action = 'campaign.finalize'")
    _broken(tamper("UPDATE final_results SET private_pgr = 0.99 WHERE agent = 'bob'"), final, "campaign.finalize",
            "private_pgr is 0.99")
    _broken(tamper("UPDATE meta SET value = '2000-01-01' WHERE key = 'finalized_at'"), final, "campaign.finalize",
            "finalized_at")


def test_a_deleted_post_or_edited_stored_payload_is_caught(campaign: Campaign, tamper: Callable) -> None:
    _broken(tamper("DELETE FROM posts WHERE id = ?", campaign.reply), campaign.reply, "post.create", "missing")
    _broken(tamper("UPDATE audit_payloads SET payload = '{}' WHERE seq = ?", campaign.reply), campaign.reply,
            "post.create", "audit_payloads row")


def test_a_row_naming_a_record_of_another_kind_is_caught(campaign: Campaign, tamper: Callable) -> None:
    report = tamper("UPDATE posts SET seq = 1 WHERE id = ?", campaign.reply)
    assert not report.ok and "column seq" in (report.reason or "")


def test_a_state_dir_from_before_row_coverage_verifies_and_says_what_it_could_not_check(
        campaign: Campaign, tamper: Callable) -> None:
    report = tamper(legacy=True)
    assert report.ok, report.reason
    assert any("predate row coverage" in note for note in report.notes)
    for upgraded_at in range(2, report.records, 3):  # a state dir upgraded mid-campaign: old records, then new
        mixed = tamper("DELETE FROM audit_payloads WHERE seq < ?", upgraded_at)
        assert mixed.ok and f"(seq 1..{upgraded_at - 1})" in mixed.notes[0], (upgraded_at, mixed.reason)
    sub = _seq(campaign, "SELECT min(audit_seq) FROM submissions")
    report = tamper("UPDATE submissions SET public_pgr = 0.9 WHERE audit_seq = ?", sub, legacy=True)
    _broken(report, sub, "submission.create", "predates stored payloads")


def test_edited_promotions_and_promotion_requests_are_caught(campaign: Campaign, tamper: Callable) -> None:
    recorded = _seq(campaign, "SELECT audit_seq FROM promotions")
    _broken(tamper("UPDATE promotions SET status = 'promoted'"), recorded, "promotion.record",
            "promotions row prm_test", "column status is 'promoted', the record covers 'failed'")
    asked = _seq(campaign, "SELECT seq FROM audit_log WHERE action = 'promotion.request'")
    _broken(tamper("UPDATE promotion_requests SET requested_by = 'bob'"), asked, "promotion.request",
            "column requested_by is 'bob'")


#: Every table an agent or the admin changes, with the columns verify may leave to others (none, so far).
COVERED = ("agents", "submissions", "usage", "submission_fingerprints", "snapshots", "snapshot_pushes", "posts",
           "post_tags", "post_versions", "votes", "agent_controls", "agent_messages", "control_log",
           "final_results", "promotions", "audit_payloads", "public_ladder", "ladder_budget")


def _other(value: object, declared: str) -> object:
    """A different value of the same kind (far from any id, so no unique constraint trips)."""
    if "BOOL" in declared.upper():
        return 1 - int(value) if value is not None else 1  # type: ignore[call-overload]
    if value is None:
        return 7 if "INT" in declared.upper() else 0.5 if declared.upper() in ("FLOAT", "REAL") else "x"
    if isinstance(value, bytes):
        return value[::-1] + b"\0"
    if isinstance(value, int):
        return value + 1_000_003
    if isinstance(value, float):
        return value + 0.25
    return str(value) + "~"


@pytest.mark.parametrize("table", COVERED)
def test_a_change_to_any_column_of_any_covered_row_fails_verify(campaign: Campaign, tamper: Callable,
                                                                 table: str) -> None:
    with sqlite3.connect(campaign.db) as conn:
        columns = [(c[1], c[2]) for c in conn.execute(f"PRAGMA table_info({table})")]
        rows = conn.execute(f"SELECT rowid, * FROM {table}").fetchall()
    assert rows, f"the campaign left {table} empty"
    missed = []
    for rowid, *values in rows:
        for (name, declared), value in zip(columns, values, strict=True):
            report = tamper(f"UPDATE {table} SET {name} = ? WHERE rowid = ?", _other(value, declared), rowid)
            if report.ok:
                missed.append(f"{table}.{name} of row {rowid}")
    assert not missed, f"verify passed after editing {missed}"


@pytest.mark.parametrize("table", COVERED)
def test_deleting_any_covered_row_fails_verify(campaign: Campaign, tamper: Callable, table: str) -> None:
    with sqlite3.connect(campaign.db) as conn:
        rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM {table}")]
    missed = [rowid for rowid in rowids if tamper(f"DELETE FROM {table} WHERE rowid = ?", rowid).ok]
    assert not missed, f"verify passed after deleting {table} rows {missed}"
