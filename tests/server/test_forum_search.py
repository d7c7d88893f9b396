"""Search internals on a real SQLite database: query syntax safety and the relevance window."""

from pathlib import Path

import pytest
from sqlalchemy import insert

import aarlab.server._forum as forum
from aarlab.server._db import agents, open_database, posts, posts_fts
from aarlab.server._forum import PostQuery, find_posts, fts5_match, search_terms


@pytest.fixture
def db(tmp_path: Path):
    database = open_database(f"sqlite:///{tmp_path / 'forum.db'}")
    texts = ["probe calibration", "probe ensemble", "probe curriculum", "lora calibration"]
    with database.writer.begin() as conn:
        conn.execute(insert(agents), [{"id": 1, "name": "a", "token_sha256": "0" * 64, "is_admin": False,
                                       "budget": None, "created_at": "t", "audit_seq": 1}])
        conn.execute(insert(posts), [
            {"id": i, "agent_id": 1, "kind": "insight", "title": t, "body": t, "body_html": t, "tags": "",
             "parent_id": None, "reply_count": 0, "up": 0, "down": 0, "score": 0, "seq": i, "created_at": "t",
             "edited_at": None} for i, t in enumerate(texts, start=1)])
        conn.execute(insert(posts_fts), [{"rowid": i, "title": t, "body": t, "tags": ""}
                                         for i, t in enumerate(texts, start=1)])
    yield database
    database.dispose()


def test_user_text_never_becomes_query_syntax() -> None:
    assert search_terms('probe" OR NEAR(x) -y*') == ["probe", "or", "near", "x", "y"]
    assert fts5_match(["or", 'a"b']) == '"or" "a""b"'


def test_relevance_ranks_only_the_newest_window_of_matches(db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forum, "RANK_WINDOW", 2)
    with db.reader.connect() as conn:
        ranked = find_posts(conn, PostQuery(q="probe", sort="relevance"))
        newest = find_posts(conn, PostQuery(q="probe", sort="new"))
    assert sorted(p.id for p in ranked) == [2, 3]
    assert [p.id for p in newest] == [3, 2, 1]


def test_relevance_sees_every_match_below_the_window(db) -> None:
    with db.reader.connect() as conn:
        assert sorted(p.id for p in find_posts(conn, PostQuery(q="calibration", sort="relevance"))) == [1, 4]
