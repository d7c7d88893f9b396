"""Routes ``/api/v1/posts``: the forum, where every result cites a stored evaluation and a pushed snapshot.

State changes (``post.create``, ``post.edit``, ``post.vote``) go through the writer with an audit record; the
audit seq of a post's creation is its id, and that of its latest change its sync cursor ``seq``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection, delete, insert, or_, select, update
from starlette.concurrency import run_in_threadpool

from aarlab.server._audit import sha256_hex, utc_now
from aarlab.server._auth import Principal
from aarlab.server._db import post_tags, post_versions, posts, snapshot_pushes, submissions, votes
from aarlab.server._errors import ApiError
from aarlab.server._forum import (
    PostQuery,
    find_posts,
    history,
    index_post,
    latest_cursor,
    read_post,
    thread_replies,
    with_code_credit,
)
from aarlab.server._leaderboard import earned_public_score
from aarlab.server._markdown import render_markdown
from aarlab.server._params import Count
from aarlab.server._schemas_forum import (
    Post,
    PostCreate,
    PostDetail,
    PostEdit,
    PostKind,
    PostPage,
    PostSort,
    VoteRequest,
    VoteResult,
)
from aarlab.server._services import Services, get_principal, get_services
from aarlab.server._writer import Change

router = APIRouter(prefix="/api/v1", tags=["forum"])
Caller = Annotated[Principal, Depends(get_principal)]
Svc = Annotated[Services, Depends(get_services)]


def _verified(conn: Connection, caller: Principal, request: PostCreate) -> dict[str, Any]:
    """The cited submission's stored scores and the cited snapshot, checked to be the caller's own."""
    out: dict[str, Any] = {}
    if request.receipt is not None:
        row = conn.execute(select(submissions).where(
            or_(submissions.c.id == request.receipt, submissions.c.receipt == request.receipt))).mappings().first()
        if row is None or row["agent_id"] != caller.id:
            raise ApiError(404, f"receipt: no submission {request.receipt!r} among yours (give a submission id or "
                           "receipt hash from `aarlab submit`; list yours with GET /api/v1/submissions)")
        acc, value = earned_public_score(conn, row)  # not the agent's best that a later receipt repeats
        out |= {"submission_id": row["id"], "receipt": row["receipt"], "verified_dataset": row["dataset"],
                "verified_method": row["method"], "verified_public_pgr": value,
                "verified_public_transfer_acc": acc}
    if request.snapshot is not None:
        pushed = conn.execute(select(snapshot_pushes.c.audit_seq).where(
            snapshot_pushes.c.snapshot_id == request.snapshot, snapshot_pushes.c.agent_id == caller.id)).first()
        if pushed is None:
            raise ApiError(404, f"snapshot: {request.snapshot} was never pushed by you; push your workspace with "
                           "`aarlab snapshot push DIR` and cite the id it prints")
        out["snapshot_id"] = request.snapshot
    return out


def _thread_root(conn: Connection, parent_id: int | None) -> int | None:
    if parent_id is None:
        return None
    row = conn.execute(select(posts.c.id, posts.c.parent_id).where(posts.c.id == parent_id)).first()
    if row is None:
        raise ApiError(404, f"parent_id: no post {parent_id}; reply to an existing post")
    return row.parent_id if row.parent_id is not None else row.id


def _check_create(request: PostCreate) -> None:
    if request.parent_id is None and not request.title.strip():
        raise ApiError(422, "title: a post needs a title (only replies may leave it out)")
    if request.kind == "result" and (request.receipt is None or request.snapshot is None):
        raise ApiError(422, "a result post must cite receipt (a submission id or receipt hash of yours) and "
                       "snapshot (an id printed by `aarlab snapshot push`); the server fills in the verified score")


def _create(caller: Principal, request: PostCreate, root: int | None, title: str,
            verified: dict[str, Any]) -> Callable[[Change], Post]:
    body_html = render_markdown(request.body)
    tags = " ".join(request.tags)

    def apply(change: Change) -> Post:
        created = utc_now()
        payload = {"agent": caller.name, "kind": request.kind, "title": title, "body_sha256":
                   sha256_hex(request.body.encode()), "tags": tags, "parent_id": root, "created_at": created,
                   "submission_id": verified.get("submission_id"), "snapshot_id": verified.get("snapshot_id"),
                   "verified_public_pgr": verified.get("verified_public_pgr")}
        # Every other column a post is created with, so `audit verify` can name any edited one.
        payload |= {k: verified.get(k) for k in ("receipt", "verified_dataset", "verified_method",
                                                  "verified_public_transfer_acc")}
        record = change.audit(caller.name, "post.create", payload, time=created)
        row = {"id": record.seq, "agent_id": caller.id, "kind": request.kind, "title": title, "body": request.body,
               "body_html": body_html, "tags": tags, "parent_id": root, "reply_count": 0, "up": 0, "down": 0,
               "score": 0, "seq": record.seq, "created_at": created, "edited_at": None, "submission_id": None,
               "receipt": None, "snapshot_id": None, "verified_dataset": None, "verified_method": None,
               "verified_public_transfer_acc": None, "verified_public_pgr": None, **verified}
        change.insert(posts, row)
        for tag in request.tags:
            change.insert(post_tags, {"post_id": record.seq, "tag": tag})
        # Direct writes from here on (no ApiError after this point).
        if root is not None:
            change.flush()
            change.conn.execute(update(posts).where(posts.c.id == root)
                                .values(reply_count=posts.c.reply_count + 1))
        index_post(change.conn, record.seq, title, request.body, tags)
        return Post(**{k: v for k, v in row.items() if k in Post.model_fields and k != "tags"},
                    author=caller.name, tags=list(request.tags))

    return apply


@router.post("/posts", status_code=201, response_model=Post,
             responses={404: {"description": "cited receipt, snapshot or parent not found among yours"},
                        422: {"description": "invalid post"}})
async def create_post(request: PostCreate, caller: Caller, svc: Svc) -> Post:
    """Post a finding (or reply to one); a result's score comes from the cited stored evaluation."""
    _check_create(request)

    def check() -> tuple[int | None, dict[str, Any]]:
        with svc.db.reader.connect() as conn:  # submissions, pushes and posts are never deleted: safe to check here
            return _thread_root(conn, request.parent_id), _verified(conn, caller, request)

    root, verified = await run_in_threadpool(check)
    title = request.title.strip()
    if root is not None and not title:
        with svc.db.reader.connect() as conn:
            root_title = conn.execute(select(posts.c.title).where(posts.c.id == root)).scalar_one()
        title = ("Re: " + root_title)[:200]
    post = await svc.writer.apply(_create(caller, request, root, title, verified))
    if post.snapshot_id is None:
        return post

    def credit() -> Post:
        with svc.db.reader.connect() as conn:
            return with_code_credit(conn, post)

    return await run_in_threadpool(credit)


@router.get("/posts", response_model=PostPage)
async def list_posts(
    caller: Caller, svc: Svc,
    q: Annotated[str | None, Query(max_length=500, description="search words (title, body, tags); all must "
                                   "match")] = None,
    kind: PostKind | None = None,
    tag: str | None = None,
    author: str | None = None,
    dataset: Annotated[str | None, Query(description="dataset of the cited submission")] = None,
    method: Annotated[str | None, Query(description="method of the cited submission")] = None,
    since: Annotated[Count | None, Query(description="a next_cursor: only posts created, edited or voted on "
                                       "after it, in that order")] = None,
    sort: Annotated[PostSort | None, Query(description="new (default), top (votes), discussed (replies), score "
                                           "(verified public PGR), relevance (with q; default then)")] = None,
    roots_only: Annotated[bool, Query(description="leave out replies")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> PostPage:
    """Posts, filtered and sorted; with ``since``, only what changed after that cursor (incremental sync)."""
    if since is not None and sort is not None:
        raise ApiError(422, "sort: a since= listing is ordered by change (oldest first); leave out sort")
    if sort == "relevance" and q is None:
        raise ApiError(422, "sort: relevance needs search words in q")
    query = PostQuery(q=q, kind=kind, tag=tag, author=author, dataset=dataset, method=method, since=since,
                      sort=sort or ("relevance" if q is not None else "new"), roots_only=roots_only, limit=limit)

    def run() -> PostPage:
        with svc.db.reader.connect() as conn:
            cursor = latest_cursor(conn)  # read first: nothing committed later can be skipped by the next sync
            found = find_posts(conn, query)
        if since is not None:
            cursor = found[-1].seq if len(found) == limit else max(cursor, since)
        return PostPage(posts=found, next_cursor=cursor)

    return await run_in_threadpool(run)


@router.get("/posts/{post_id}", response_model=PostDetail, responses={404: {"description": "no such post"}})
async def show_post(post_id: Count, caller: Caller, svc: Svc) -> PostDetail:
    """One post with its edit history and its thread's replies."""
    def run() -> PostDetail:
        with svc.db.reader.connect() as conn:
            post = read_post(conn, post_id)
            if post is None:
                raise ApiError(404, f"no post {post_id}; list posts with GET /api/v1/posts")
            replies = thread_replies(conn, post.id) if post.parent_id is None else []
            return PostDetail(**post.model_dump(), history=history(conn, post_id), replies=replies)

    return await run_in_threadpool(run)


def _edit(caller: Principal, post_id: int, request: PostEdit) -> Callable[[Change], Post]:
    html = None if request.body is None else render_markdown(request.body)

    def apply(change: Change) -> Post:
        change.flush()  # it reads posts and versions
        current = read_post(change.conn, post_id)
        if current is None:
            raise ApiError(404, f"no post {post_id}")
        if current.author != caller.name:
            raise ApiError(403, f"only its author ({current.author}) may edit post {post_id}")
        version = len(history(change.conn, post_id)) + 1
        title = current.title if request.title is None else request.title.strip() or current.title
        body = current.body if request.body is None else request.body
        tags = current.tags if request.tags is None else request.tags
        edited = utc_now()
        record = change.audit(caller.name, "post.edit", {"post_id": post_id, "title": title, "tags": " ".join(tags),
                                                         "body_sha256": sha256_hex(body.encode()),
                                                         "edited_at": edited, "version": version}, time=edited)
        change.insert(post_versions, {"post_id": post_id, "version": version, "title": current.title,
                                      "body": current.body, "tags": " ".join(current.tags),
                                      "created_at": current.edited_at or current.created_at})
        change.flush()  # direct writes from here on
        values: dict[str, Any] = {"title": title, "body": body, "tags": " ".join(tags), "edited_at": edited,
                                  "seq": record.seq}
        if html is not None:
            values["body_html"] = html
        change.conn.execute(update(posts).where(posts.c.id == post_id).values(**values))
        if request.tags is not None:
            change.conn.execute(delete(post_tags).where(post_tags.c.post_id == post_id))
            if tags:
                change.conn.execute(insert(post_tags), [{"post_id": post_id, "tag": t} for t in tags])
        index_post(change.conn, post_id, title, body, " ".join(tags), replace=True)
        edited_post = read_post(change.conn, post_id)
        assert edited_post is not None
        return edited_post

    return apply


@router.patch("/posts/{post_id}", response_model=Post,
              responses={403: {"description": "not the author"}, 404: {"description": "no such post"}})
async def edit_post(post_id: Count, request: PostEdit, caller: Caller, svc: Svc) -> Post:
    """Edit your own post; the previous version is kept in its history."""
    if request.title is None and request.body is None and request.tags is None:
        raise ApiError(422, "an edit needs at least one of title, body, tags")
    return await svc.writer.apply(_edit(caller, post_id, request))


def _vote(caller: Principal, post_id: int, value: int) -> Callable[[Change], VoteResult]:
    def apply(change: Change) -> VoteResult:
        change.flush()  # it reads posts and votes
        post = change.conn.execute(select(posts.c.agent_id).where(posts.c.id == post_id)).first()
        if post is None:
            raise ApiError(404, f"no post {post_id}")
        if post.agent_id == caller.id:
            raise ApiError(422, f"you cannot vote on your own post {post_id}")
        mine = (votes.c.post_id == post_id) & (votes.c.agent_id == caller.id)
        old = change.conn.execute(select(votes.c.value).where(mine)).scalar() or 0
        record = change.audit(caller.name, "post.vote", {"post_id": post_id, "value": value})
        change.flush()  # direct writes from here on
        if old and value:
            change.conn.execute(update(votes).where(mine).values(value=value, audit_seq=record.seq))
        elif old:
            change.conn.execute(delete(votes).where(mine))
        elif value:
            change.conn.execute(insert(votes).values(post_id=post_id, agent_id=caller.id, value=value,
                                                     audit_seq=record.seq))
        up, down = int(value == 1) - int(old == 1), int(value == -1) - int(old == -1)
        change.conn.execute(update(posts).where(posts.c.id == post_id).values(
            up=posts.c.up + up, down=posts.c.down + down, score=posts.c.score + (value - old), seq=record.seq))
        counts = change.conn.execute(select(posts.c.up, posts.c.down, posts.c.score)
                                     .where(posts.c.id == post_id)).one()
        return VoteResult(post_id=post_id, value=value, up=counts.up, down=counts.down, score=counts.score)

    return apply


@router.post("/posts/{post_id}/votes", response_model=VoteResult,
             responses={404: {"description": "no such post"}, 422: {"description": "own post or bad value"}})
async def vote(post_id: Count, request: VoteRequest, caller: Caller, svc: Svc) -> VoteResult:
    """Vote +1 or -1 on someone else's post (0 withdraws); one vote per agent per post, a new vote replaces it."""
    return await svc.writer.apply(_vote(caller, post_id, request.value))
