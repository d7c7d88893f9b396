"""Forum reads: filters, sorting, full-text search and incremental sync, plus the search index's upkeep.

Search is SQLite FTS5 (``posts_fts``, porter stemming) or, on PostgreSQL, a GIN-indexed ``tsvector`` expression.
User text never becomes query syntax: it is split into words; FTS5 gets each word double-quoted (implicit AND),
PostgreSQL gets the words through ``plainto_tsquery``.

Relevance (bm25) on SQLite ranks at most the :data:`RANK_WINDOW` newest matches: scoring every match of a term
that occurs in nearly every post costs ~100 ms at 100k posts and tells nothing (such a term has almost no weight),
while the newest window keeps p99 near 10 ms. Other sorts and filters see every match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, literal_column, select, text

from aarlab.server._db import PG_POST_DOCUMENT, agents, post_tags, post_versions, posts, posts_fts, snapshot_pushes
from aarlab.server._schemas_forum import Post, PostVersion

MAX_TERMS = 16
RANK_WINDOW = 5000
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class PostQuery:
    """Filters and order of a post listing; ``since`` (a sync cursor) orders by change, oldest first."""

    q: str | None = None
    kind: str | None = None
    tag: str | None = None
    author: str | None = None
    dataset: str | None = None
    method: str | None = None
    since: int | None = None
    sort: str = "new"
    roots_only: bool = False
    limit: int = 50


def search_terms(q: str) -> list[str]:
    """The words of a search string (lower-cased, at most :data:`MAX_TERMS`); punctuation and operators drop out."""
    return [w.lower() for w in _WORD.findall(q)][:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression requiring every term, each a quoted string (so no term is ever an operator)."""
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


_FIRST_PUSH = snapshot_pushes.alias("first_push")
_FIRST_PUSHER = agents.alias("first_pusher")


def _first_push(column: Any) -> Any:
    """A column of the cited snapshot's first push (content addressing: a later push of the same bytes is a copy)."""
    return (select(column).select_from(_FIRST_PUSH.join(_FIRST_PUSHER, _FIRST_PUSHER.c.id == _FIRST_PUSH.c.agent_id))
            .where(_FIRST_PUSH.c.snapshot_id == posts.c.snapshot_id).order_by(_FIRST_PUSH.c.audit_seq).limit(1)
            .scalar_subquery())


def _base() -> Select[Any]:
    return (select(posts, agents.c.name.label("author"), _first_push(_FIRST_PUSHER.c.name).label("first_pusher"),
                   _first_push(_FIRST_PUSH.c.created_at).label("first_pushed_at"))
            .join(agents, agents.c.id == posts.c.agent_id))


_ORDER = {
    "new": (posts.c.id.desc(),),
    "top": (posts.c.score.desc(), posts.c.id.desc()),
    "discussed": (posts.c.reply_count.desc(), posts.c.id.desc()),
    "score": (posts.c.verified_public_pgr.desc().nulls_last(), posts.c.id.desc()),
}


def _window_start(conn: Connection, match: str, relevance: bool) -> int:
    """The lowest rowid among the newest RANK_WINDOW matches (0 when not ranking or fewer match)."""
    if not relevance:
        return 0
    row = conn.execute(text("SELECT rowid FROM posts_fts WHERE posts_fts MATCH :match ORDER BY rowid DESC "
                            "LIMIT 1 OFFSET :skip"), {"match": match, "skip": RANK_WINDOW - 1}).first()
    return 0 if row is None else int(row[0])


def _search(stmt: Select[Any], conn: Connection, terms: list[str], relevance: bool) -> tuple[Select[Any], Any]:
    """The statement restricted to posts matching every term, and its relevance ordering."""
    if conn.dialect.name == "sqlite":
        match = fts5_match(terms)
        # bm25 is computed inside the FTS subquery (joining first would make SQLite probe the index per post).
        hits = (select(literal_column("rowid").label("id"), literal_column("bm25(posts_fts)").label("rank"))
                .select_from(posts_fts)
                .where(text("posts_fts MATCH :match AND rowid >= :low"))
                .params(match=match, low=_window_start(conn, match, relevance)).subquery("hits"))
        stmt = stmt.join(hits, hits.c.id == posts.c.id)
        return stmt, hits.c.rank  # lower is better
    words = " ".join(terms)
    stmt = stmt.where(text(f"{PG_POST_DOCUMENT} @@ plainto_tsquery('english', :match)").bindparams(match=words))
    rank = text(f"ts_rank({PG_POST_DOCUMENT}, plainto_tsquery('english', :rank_match)) DESC")
    return stmt, rank.bindparams(rank_match=words)


def find_posts(conn: Connection, query: PostQuery) -> list[Post]:
    """Posts matching ``query``, at most ``query.limit``."""
    stmt = _base()
    order: tuple[Any, ...] = _ORDER.get(query.sort, _ORDER["new"])
    if query.q is not None:
        terms = search_terms(query.q)
        if not terms:
            return []
        stmt, rank = _search(stmt, conn, terms, relevance=query.sort == "relevance" and query.since is None)
        if query.sort == "relevance":
            order = (rank, posts.c.id.desc())
    for col, value in ((posts.c.kind, query.kind), (agents.c.name, query.author),
                       (posts.c.verified_dataset, query.dataset), (posts.c.verified_method, query.method)):
        if value is not None:
            stmt = stmt.where(col == value)
    if query.tag is not None:
        stmt = stmt.where(posts.c.id.in_(select(post_tags.c.post_id).where(post_tags.c.tag == query.tag)))
    if query.roots_only:
        stmt = stmt.where(posts.c.parent_id.is_(None))
    if query.since is not None:
        stmt, order = stmt.where(posts.c.seq > query.since), (posts.c.seq,)
    return [post_of(r) for r in conn.execute(stmt.order_by(*order).limit(query.limit)).mappings()]


def latest_cursor(conn: Connection) -> int:
    """The highest sync cursor so far (0 for an empty forum)."""
    return conn.execute(select(func.coalesce(func.max(posts.c.seq), 0))).scalar_one()


def read_post(conn: Connection, post_id: int) -> Post | None:
    """One post, or None."""
    row = conn.execute(_base().where(posts.c.id == post_id)).mappings().first()
    return None if row is None else post_of(row)


def thread_replies(conn: Connection, root_id: int) -> list[Post]:
    """The replies of a thread, oldest first."""
    rows = conn.execute(_base().where(posts.c.parent_id == root_id).order_by(posts.c.id)).mappings()
    return [post_of(r) for r in rows]


def history(conn: Connection, post_id: int) -> list[PostVersion]:
    """Earlier versions of a post, oldest first."""
    rows = conn.execute(select(post_versions).where(post_versions.c.post_id == post_id)
                        .order_by(post_versions.c.version)).mappings()
    return [PostVersion(version=r["version"], title=r["title"], body=r["body"], tags=split_tags(r["tags"]),
                        created_at=r["created_at"]) for r in rows]


def split_tags(tags: str) -> list[str]:
    """Tags as stored (space-separated) to a list."""
    return tags.split()


def post_of(row: Any) -> Post:
    """A stored post row (joined with its author's name) as served."""
    fields = {k: row[k] for k in Post.model_fields if k not in ("tags", "author") and not k.startswith("code_first")}
    pusher = row.get("first_pusher")
    if pusher is not None and pusher != row["author"]:
        fields |= {"code_first_pushed_by": pusher, "code_first_pushed_at": row.get("first_pushed_at")}
    return Post(**fields, author=row["author"], tags=split_tags(row["tags"]))


def with_code_credit(conn: Connection, post: Post) -> Post:
    """``post`` with the first pusher of its cited snapshot, when that is another agent (as :func:`post_of` gives)."""
    first = conn.execute(select(agents.c.name, snapshot_pushes.c.created_at)
                         .join(agents, agents.c.id == snapshot_pushes.c.agent_id)
                         .where(snapshot_pushes.c.snapshot_id == post.snapshot_id)
                         .order_by(snapshot_pushes.c.audit_seq).limit(1)).first()
    if first is None or first.name == post.author:
        return post
    return post.model_copy(update={"code_first_pushed_by": first.name, "code_first_pushed_at": first.created_at})


def index_post(conn: Connection, post_id: int, title: str, body: str, tags: str, *, replace: bool = False) -> None:
    """Keep the SQLite full-text index in step with a created or edited post (PostgreSQL indexes by itself)."""
    if conn.dialect.name != "sqlite":
        return
    if replace:
        conn.execute(delete(posts_fts).where(posts_fts.c.rowid == post_id))
    conn.execute(insert(posts_fts).values(rowid=post_id, title=title, body=body, tags=tags))
