"""The forum on a real server (SQLite and PostgreSQL): verified results, votes, search, sync, edits, safety."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from aarlab.cli import app
from aarlab.client import ForumClient, ScoringError
from aarlab.server import PostCreate, open_state, verify_chain
from tests.server.conftest import RunningServer
from tests.server.helpers import auth, constant
from tests.server.test_markdown import active_content


def _agent(server: RunningServer) -> ForumClient:
    return ForumClient(server.url, server.add_agent())


def _result_material(server: RunningServer, client: ForumClient, tmp_path: Path) -> tuple[str, str, str]:
    """A stored evaluation (id, receipt hash) and a pushed snapshot of the client's agent."""
    receipt = client.submit("math", constant(server.ids("math"), 0.8), method="forum-test")
    (tmp_path / "ws").mkdir(exist_ok=True)
    (tmp_path / "ws" / "m.py").write_text(f"# {receipt.id}\n")
    return receipt.id, receipt.receipt, client.push_directory(tmp_path / "ws").id


def _refused(call, status: int) -> str:  # noqa: ANN001
    with pytest.raises(ScoringError) as err:
        call()
    assert err.value.status == status, err.value.message
    return err.value.message


def test_a_result_needs_a_receipt_and_a_snapshot_of_the_author(server: RunningServer, tmp_path: Path) -> None:
    with _agent(server) as alice, _agent(server) as mallory:
        sub_id, _, snap = _result_material(server, alice, tmp_path)
        assert "receipt" in _refused(lambda: alice.post("result", "t", "b", snapshot=snap), 422)
        assert "receipt" in _refused(lambda: alice.post("result", "t", "b", receipt="sub_nope", snapshot=snap), 404)
        # someone else's receipt and snapshot are not yours to cite
        assert "among yours" in _refused(lambda: mallory.post("result", "t", "b", receipt=sub_id, snapshot=snap), 404)
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "x.py").write_text("mallory's")
        theirs = mallory.push_directory(tmp_path / "other").id
        assert "never pushed by you" in _refused(
            lambda: alice.post("result", "t", "b", receipt=sub_id, snapshot=theirs), 404)


def test_a_result_gets_its_score_from_the_stored_evaluation_never_from_the_agent(
        server: RunningServer, tmp_path: Path) -> None:
    with _agent(server) as alice:
        sub_id, receipt_hash, snap = _result_material(server, alice, tmp_path)
        stored = alice.submission(sub_id)
        by_hash = alice.post("result", "Confidence weighting", "it works", receipt=receipt_hash, snapshot=snap)
        assert (by_hash.submission_id, by_hash.snapshot_id) == (sub_id, snap)
        assert by_hash.verified_public_pgr == stored.public_pgr and by_hash.verified_dataset == "math"
        assert by_hash.verified_public_transfer_acc == stored.public_transfer_acc
        assert by_hash.verified_method == "forum-test"
        typed = alice._http.post("/api/v1/posts", json={"kind": "result", "title": "t", "body": "b",
                                                         "receipt": sub_id, "snapshot": snap,
                                                         "verified_public_pgr": 0.99})
        assert typed.status_code == 422 and "verified_public_pgr" in typed.json()["detail"]


def test_voting_twice_counts_once_and_a_new_vote_replaces_the_old(server: RunningServer) -> None:
    with _agent(server) as alice, _agent(server) as bob:
        post = alice.post("hypothesis", "Votes", "vote on me")
        bob.vote(post.id, 1)
        again = bob.vote(post.id, 1)
        assert (again.up, again.down, again.score) == (1, 0, 1)
        flipped = bob.vote(post.id, -1)
        assert (flipped.up, flipped.down, flipped.score) == (0, 1, -1)
        assert bob.vote(post.id, 0).score == 0
        assert "own post" in _refused(lambda: alice.vote(post.id, 1), 422)
        assert _refused(lambda: bob.vote(10**9, 1), 404)


def test_search_finds_posts_by_words_in_title_body_and_tags(server: RunningServer) -> None:
    with _agent(server) as alice:
        title = alice.post("insight", "Zebrafish calibration trick", "plain body")
        body = alice.post("insight", "plain title", "the quokka ensembles generalise")
        tagged = alice.post("insight", "another", "text", tags=["narwhal-probe"])
        assert [p.id for p in alice.search("zebrafish")] == [title.id]
        assert [p.id for p in alice.search("QUOKKA ensemble")] == [body.id]  # case and stemming
        assert [p.id for p in alice.search("narwhal")] == [tagged.id]
        assert alice.search("zebrafish quokka") == []  # every word must match
        for hostile in ('"', "zebrafish OR", "NEAR(a b)", "*", "x' OR 1=1 --", "title:zebrafish", "(((", "-"):
            alice.search(hostile)  # never a syntax error
        assert [p.id for p in alice.posts(tag="narwhal-probe").posts] == [tagged.id]


def test_filters_and_sorts(server: RunningServer, tmp_path: Path) -> None:
    with _agent(server) as carol, _agent(server) as dave:
        sub_id, _, snap = _result_material(server, carol, tmp_path)
        result = carol.post("result", "filtered", "r", receipt=sub_id, snapshot=snap, tags=["filter-me"])
        question = carol.post("question", "filtered q", "q", tags=["filter-me"])
        dave.vote(question.id, 1)
        dave.reply(result.id, "nice")
        mine = carol.posts(author=carol.whoami().name).posts
        assert {p.id for p in mine} == {result.id, question.id}
        assert [p.id for p in carol.posts(tag="filter-me", kind="result").posts] == [result.id]
        assert result.id in [p.id for p in carol.posts(dataset="math", method="forum-test").posts]
        assert [p.id for p in carol.posts(tag="filter-me", sort="top").posts] == [question.id, result.id]
        assert [p.id for p in carol.posts(tag="filter-me", sort="discussed").posts] == [result.id, question.id]
        best = carol.posts(sort="score", limit=1).posts[0]
        assert best.verified_public_pgr is not None
        assert "relevance" in _refused(lambda: carol.posts(sort="relevance"), 422)


def test_since_cursor_returns_only_what_is_new_or_changed(server: RunningServer) -> None:
    with _agent(server) as alice, _agent(server) as bob:
        alice.post("insight", "before", "old")
        _, cursor = alice.sync()
        assert alice.posts(since=cursor).posts == []
        new = alice.post("insight", "after", "new")
        page = bob.posts(since=cursor)
        assert [p.id for p in page.posts] == [new.id] and page.next_cursor > cursor
        bob.vote(new.id, 1)
        changed = bob.posts(since=page.next_cursor)
        assert [(p.id, p.score) for p in changed.posts] == [(new.id, 1)]
        assert bob.posts(since=changed.next_cursor).posts == []
        first = bob.posts(since=0, limit=1)
        assert len(first.posts) == 1 and first.next_cursor == first.posts[0].seq


def test_replies_join_the_thread_and_edits_keep_history(server: RunningServer) -> None:
    with _agent(server) as alice, _agent(server) as bob:
        root = alice.post("question", "Why does it diverge?", "first version", tags=["lr"])
        reply = bob.reply(root.id, "lower the lr")
        nested = alice.reply(reply.id, "thanks")
        assert reply.parent_id == nested.parent_id == root.id and reply.title == "Re: Why does it diverge?"
        assert "only its author" in _refused(lambda: bob.edit(root.id, body="hijacked"), 403)
        edited = alice.edit(root.id, body="second version", tags=["lr", "divergence"])
        assert edited.body == "second version" and edited.edited_at and edited.seq > root.seq
        detail = bob.show(root.id)
        assert detail.reply_count == 2 and [r.id for r in detail.replies] == [reply.id, nested.id]
        assert [(h.version, h.body, h.tags) for h in detail.history] == [(1, "first version", ["lr"])]
        assert [p.id for p in bob.search("second version")] == [root.id]
        assert bob.search("first version") == [] or root.id not in [p.id for p in bob.search("first version")]


def test_post_limits_are_enforced_with_the_field_named(server: RunningServer) -> None:
    with _agent(server) as alice:
        for bad, field in (({"title": "x" * 201}, "title"), ({"body": "é" * 32769}, "body"),
                           ({"tags": ["Bad Tag"]}, "tags"), ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
                           ({"kind": "rumour"}, "kind")):
            request = {"kind": "insight", "title": "t", "body": "b", **bad}
            response = alice._http.post("/api/v1/posts", content=json.dumps(request, ensure_ascii=False),
                                        headers={"Content-Type": "application/json"})
            # the test server's request limit (64 KiB) may answer first for the body
            expected = (413, 422) if field == "body" else (422,)
            assert response.status_code in expected and field in response.json()["detail"], (bad, response.text)
        with pytest.raises(ValidationError, match="the limit is 65536"):
            PostCreate(kind="insight", title="t", body="é" * 32769)
        assert "title" in _refused(lambda: alice.post("insight", "  ", "no title"), 422)


def test_an_xss_body_is_stored_as_given_and_never_rendered_as_script(server: RunningServer) -> None:
    payload = '<script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3))'
    with _agent(server) as alice:
        post = alice.post("insight", "<script>t</script>", payload)
        for seen in (post, alice.show(post.id), alice.posts(author=post.author).posts[0]):
            assert seen.body == payload and active_content(seen.body_html) == []


def test_forum_changes_are_audited_and_the_chain_verifies(server: RunningServer) -> None:
    with _agent(server) as alice, _agent(server) as bob:
        post = alice.post("insight", "audited", "x")
        bob.vote(post.id, 1)
        alice.edit(post.id, title="audited twice")
    opened = open_state(server.state)
    try:
        from aarlab.server._db import audit_log

        with opened.db.reader.connect() as conn:
            actions = {r.action for r in conn.execute(audit_log.select())}
        assert {"post.create", "post.vote", "post.edit"} <= actions and verify_chain(opened.db).ok
    finally:
        opened.db.dispose()


def test_cli_post_and_search_print_json(server: RunningServer, tmp_path: Path) -> None:
    token = server.add_agent()
    with ForumClient(server.url, token) as client:
        sub_id, _, snap = _result_material(server, client, tmp_path)
    runner, common = CliRunner(), ["--server", server.url, "--token", token]
    posted = runner.invoke(app, ["forum", "post", "--kind", "result", "--title", "Okapi method", "--body", "B",
                                 "--receipt", sub_id, "--snapshot", snap, *common])
    assert posted.exit_code == 0, posted.output
    post = json.loads(posted.stdout)
    assert post["id"] and post["verified_public_pgr"] is not None and post["submission_id"] == sub_id
    found = runner.invoke(app, ["forum", "search", "okapi", "--json", *common])
    assert [p["id"] for p in json.loads(found.stdout)] == [post["id"]]
    listed = runner.invoke(app, ["forum", "list", "--since", "0", "--json", *common])
    assert post["id"] in [p["id"] for p in json.loads(listed.stdout)["posts"]]
    refused = runner.invoke(app, ["forum", "post", "--kind", "result", "--title", "T", "--body", "B", *common])
    assert refused.exit_code == 2 and "receipt" in refused.output
    shown = runner.invoke(app, ["forum", "show", str(post["id"]), *common])
    assert shown.exit_code == 0 and "Okapi method" in shown.stdout


def test_every_forum_route_requires_a_token(server: RunningServer) -> None:
    for method, path in (("GET", "/api/v1/posts"), ("POST", "/api/v1/posts"), ("GET", "/api/v1/posts/1"),
                         ("PATCH", "/api/v1/posts/1"), ("POST", "/api/v1/posts/1/votes"),
                         ("POST", "/api/v1/snapshots"), ("GET", "/api/v1/snapshots/" + "0" * 64)):
        assert httpx.request(method, server.url + path).status_code == 401, (method, path)
    assert httpx.get(server.url + "/api/v1/posts", headers=auth("aar_wrong")).status_code == 401
