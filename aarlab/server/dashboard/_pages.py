"""The dashboard's pages: overview, leaderboard, forum, agent, submission, snapshot, oversight and login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from aarlab.agents.monitor import monitor_agent
from aarlab.server._db import agent_messages, agents, audit_log, control_log, snapshot_pushes, snapshots
from aarlab.server._forum import PostQuery, find_posts, read_post, thread_replies
from aarlab.server._lineage import builds_on
from aarlab.server._markdown import render_markdown
from aarlab.server._params import Count
from aarlab.server._services import Services, get_services
from aarlab.server.dashboard._chart import agent_colours, pgr_chart
from aarlab.server.dashboard._data import DashboardData, agent_snapshots
from aarlab.server.dashboard._files import read_notebook, read_transcript
from aarlab.server.dashboard._session import Forbidden, Visitor, login_error, oversight_done
from aarlab.server.dashboard._site import dashboard_of, safe_next

router = APIRouter(include_in_schema=False)
Svc = Annotated[Services, Depends(get_services)]


async def get_visitor(request: Request) -> Visitor:
    """FastAPI dependency: the admin or a viewer (login redirect or 403 page otherwise)."""
    return await dashboard_of(request).sessions.visitor(request)


Seen = Annotated[Visitor, Depends(get_visitor)]


def charts(data: DashboardData) -> dict[str, str]:
    """The PGR-over-time chart of every dataset, as SVG markup."""
    colours = agent_colours([a.name for a in data.agents])
    return {d.name: pgr_chart(d, data.evaluations, colours) for d in data.datasets}


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None, error: str | None = None) -> HTMLResponse:
    """The login form (admin token or viewer token); ``error`` is a code with a fixed message, never shown as is."""
    return dashboard_of(request).page(request, "login.html", None, title="Log in", next=safe_next(next),
                                      error=login_error(error))


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, visitor: Seen, svc: Svc) -> HTMLResponse:
    """Campaign status, agents, costs, best public PGR and the PGR-over-time charts."""
    board = dashboard_of(request)
    data = await run_in_threadpool(board.data, svc)
    return board.page(request, "overview.html", visitor, title="Overview", data=data, charts=charts(data))


@router.get("/leaderboard", response_class=HTMLResponse)
async def leaderboard(request: Request, visitor: Seen, svc: Svc) -> HTMLResponse:
    """Best public score per agent, method and dataset; private columns after finalize."""
    board = dashboard_of(request)
    data = await run_in_threadpool(board.data, svc)
    by_dataset: dict[str, list] = {d.name: [] for d in data.datasets}
    for row in data.leaderboard.rows:
        by_dataset.setdefault(row.dataset, []).append(row)
    cited = {e.id: e.snapshot_id for e in data.evaluations}
    return board.page(request, "leaderboard.html", visitor, title="Leaderboard", data=data, by_dataset=by_dataset,
                      cited=cited, charts=charts(data))


@router.get("/forum", response_class=HTMLResponse)
async def forum(request: Request, visitor: Seen, svc: Svc,
                q: Annotated[str | None, Query(max_length=200)] = None,
                kind: str | None = None, tag: str | None = None, author: str | None = None,
                dataset: str | None = None, sort: str = "new") -> HTMLResponse:
    """Threads, full-text search and filters; scores shown are the server-verified ones."""
    query = PostQuery(q=q or None, kind=kind or None, tag=tag or None, author=author or None,
                      dataset=dataset or None, sort=sort if sort in ("new", "top", "discussed", "score",
                                                                    "relevance") else "new",
                      roots_only=not q, limit=100)

    def read() -> tuple[list, list[str], dict]:
        with svc.db.reader.connect() as conn:
            names = list(conn.execute(select(agents.c.name).where(agents.c.is_admin.is_(False))
                                      .order_by(agents.c.name)).scalars())
            found = find_posts(conn, query)
            return found, names, builds_on(conn, [p.id for p in found])

    found, names, lineage = await run_in_threadpool(read)
    return dashboard_of(request).page(request, "forum.html", visitor, title="Forum", posts=found, query=query,
                                      authors=names, datasets=sorted(svc.keys), lineage=lineage)


@router.get("/forum/{post_id}", response_class=HTMLResponse)
async def thread(request: Request, post_id: Count, visitor: Seen, svc: Svc) -> HTMLResponse:
    """One thread: the post and its replies (bodies are the server's sanitized HTML)."""
    def read() -> tuple:
        with svc.db.reader.connect() as conn:
            post = read_post(conn, post_id)
            if post is None:
                return None, [], {}
            root = read_post(conn, post.parent_id) if post.parent_id else post
            replies = thread_replies(conn, root.id) if root else []
            return root, replies, builds_on(conn, [p.id for p in ([root] if root else []) + replies])

    root, replies, lineage = await run_in_threadpool(read)
    board = dashboard_of(request)
    if root is None:
        return board.page(request, "error.html", visitor, status=404, title="Not found",
                          message=f"no post {post_id}")
    return board.page(request, "thread.html", visitor, title=root.title or f"Post {root.id}", root=root,
                      replies=replies, lineage=lineage)


@router.get("/agents/{name}", response_class=HTMLResponse)
async def agent_page(request: Request, name: str, visitor: Seen, svc: Svc) -> HTMLResponse:
    """One agent: state, costs, live transcript, notebook, snapshots, submissions and flags."""
    board = dashboard_of(request)
    data = await run_in_threadpool(board.data, svc)
    agent = data.agent(name)
    if agent is None:
        return board.page(request, "error.html", visitor, status=404, title="Not found",
                          message=f"no agent named {name!r}")

    def read() -> tuple:
        with svc.db.reader.connect() as conn:
            messages = conn.execute(select(agent_messages).join(agents, agents.c.id == agent_messages.c.agent_id)
                                    .where(agents.c.name == name).order_by(agent_messages.c.id)).mappings().all()
            return agent_snapshots(conn, name), [dict(m) for m in messages]

    snaps, messages = await run_in_threadpool(read)
    events, offset = await run_in_threadpool(read_transcript, board.campaign_dir, name)
    notebook = await run_in_threadpool(read_notebook, board.campaign_dir, name)
    monitor = (await run_in_threadpool(monitor_agent, board.campaign_dir, name)
               if board.campaign_dir is not None else None)
    return board.page(request, "agent.html", visitor, title=f"Agent {name}", data=data, agent=agent,
                      monitor=monitor,
                      evaluations=[e for e in data.evaluations if e.agent == name], snapshots=snaps,
                      messages=messages, events=events, offset=offset,
                      notebook_html=render_markdown(notebook.text) if notebook.text else "",
                      notebook_refused=notebook.refused,
                      has_campaign=board.campaign_dir is not None)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
async def submission_page(request: Request, submission_id: str, visitor: Seen, svc: Svc) -> HTMLResponse:
    """A stored evaluation's receipt and flags."""
    board = dashboard_of(request)
    data = await run_in_threadpool(board.data, svc)
    found = next((e for e in data.evaluations if e.id == submission_id), None)
    if found is None:
        return board.page(request, "error.html", visitor, status=404, title="Not found",
                          message=f"no submission {submission_id!r}")
    return board.page(request, "submission.html", visitor, title=f"Submission {found.id}", e=found)


@router.get("/snapshots/{snapshot_id}", response_class=HTMLResponse)
async def snapshot_page(request: Request, snapshot_id: str, visitor: Seen, svc: Svc) -> HTMLResponse:
    """A code snapshot: its files and who pushed it."""
    def read() -> tuple:
        with svc.db.reader.connect() as conn:
            row = conn.execute(select(snapshots).where(snapshots.c.id == snapshot_id)).mappings().first()
            pushes = conn.execute(select(agents.c.name, snapshot_pushes.c.parent, snapshot_pushes.c.created_at)
                                  .join(agents, agents.c.id == snapshot_pushes.c.agent_id)
                                  .where(snapshot_pushes.c.snapshot_id == snapshot_id)).all()
        manifest = svc.store.manifest(snapshot_id) if row is not None else None
        return row, pushes, manifest or []

    row, pushes, manifest = await run_in_threadpool(read)
    board = dashboard_of(request)
    if row is None:
        return board.page(request, "error.html", visitor, status=404, title="Not found",
                          message=f"no snapshot {snapshot_id!r}")
    return board.page(request, "snapshot.html", visitor, title="Snapshot", row=row, pushes=pushes,
                      manifest=manifest)


@router.get("/oversight", response_class=HTMLResponse)
async def oversight(request: Request, visitor: Seen, svc: Svc, done: str | None = None) -> HTMLResponse:
    """Pause, resume or stop agents, message them, change budgets (admin only)."""
    if not visitor.is_admin:
        raise Forbidden("the oversight console is for the campaign admin; viewer tokens can only look")
    board = dashboard_of(request)
    data = await run_in_threadpool(board.data, svc)

    def recent() -> list:
        with svc.db.reader.connect() as conn:
            rows = conn.execute(select(audit_log, agents.c.name.label("agent"))
                                .join(control_log, control_log.c.audit_seq == audit_log.c.seq)
                                .join(agents, agents.c.id == control_log.c.agent_id)
                                .order_by(audit_log.c.seq.desc()).limit(30)).mappings().all()
            return [dict(r) for r in rows]

    return board.page(request, "oversight.html", visitor, title="Oversight", data=data,
                      records=await run_in_threadpool(recent), done=oversight_done(done))
