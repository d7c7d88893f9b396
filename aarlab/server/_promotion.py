"""Promotions on the server side: the request queue, the recorded promotions and their leaderboard columns.

The re-runs themselves happen outside the server (``aarlab promote``, :mod:`aarlab.campaign._promote`), in
sandboxes, with torch; the server only queues requests and shows what was recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, insert, select
from starlette.concurrency import run_in_threadpool

from aarlab.server._audit import utc_now
from aarlab.server._auth import Principal, require_admin
from aarlab.server._db import promotion_requests, promotions, submissions
from aarlab.server._errors import ApiError
from aarlab.server._leaderboard import finalized_at
from aarlab.server._schemas import Leaderboard
from aarlab.server._services import Services, get_principal, get_services
from aarlab.server._writer import Change


class PromotionRequest(BaseModel):
    """``POST /api/v1/admin/promotions``: queue a submission for promotion by clean re-run."""

    model_config = ConfigDict(extra="forbid")

    submission_id: str = Field(min_length=1, max_length=40)


class QueuedPromotion(BaseModel):
    """A queued promotion request."""

    id: int
    submission_id: str
    requested_by: str
    requested_at: str
    state: str


class PromotionSummary(BaseModel):
    """One recorded promotion (``GET /api/v1/promotions``); the whole result is in ``result``."""

    id: str
    submission_id: str
    agent: str
    dataset: str
    method: str
    status: str
    private_pgr: float | None
    held_out_ratio: float | None
    flags: list[str]
    created_at: str
    result: dict[str, Any]


def enqueue_change(submission_id: str, requested_by: str) -> Callable[[Change], QueuedPromotion]:
    """A state change that queues a promotion request (404 unknown submission, 409 one already waiting)."""

    def apply(change: Change) -> QueuedPromotion:
        change.flush()
        conn = change.conn
        if conn.execute(select(submissions.c.id).where(submissions.c.id == submission_id)).first() is None:
            raise ApiError(404, f"no submission {submission_id!r}; promote one listed by GET /api/v1/leaderboard "
                           "(field submission_id)")
        waiting = conn.execute(select(promotion_requests.c.id)
                               .where(promotion_requests.c.submission_id == submission_id,
                                      promotion_requests.c.state == "queued")).first()
        if waiting is not None:
            raise ApiError(409, f"submission {submission_id} is already queued for promotion (request {waiting.id}); "
                           "run `aarlab promote --queued --state STATE`")
        when = utc_now()
        row = {"submission_id": submission_id, "requested_by": requested_by, "requested_at": when, "state": "queued"}
        change.audit(requested_by, "promotion.request", row, time=when)
        change.flush()
        key = conn.execute(insert(promotion_requests).values(**row)).inserted_primary_key
        return QueuedPromotion(id=int(key[0]) if key else 0, **row)

    return apply


def read_promotion_rows(conn: Connection) -> list[PromotionSummary]:
    """Every recorded promotion, oldest first."""
    out = []
    for r in conn.execute(select(promotions).order_by(promotions.c.audit_seq)).mappings():
        out.append(PromotionSummary(id=r["id"], submission_id=r["submission_id"], agent=r["agent"],
                                    dataset=r["dataset"], method=r["method"], status=r["status"],
                                    private_pgr=r["private_pgr"], held_out_ratio=r["held_out_ratio"],
                                    flags=json.loads(r["flags"]), created_at=r["created_at"],
                                    result=json.loads(r["result"])))
    return out


def latest_promotions(conn: Connection) -> dict[str, PromotionSummary]:
    """The latest recorded promotion of each submission, by submission id."""
    return {p.submission_id: p for p in read_promotion_rows(conn)}


def with_promotions(conn: Connection, board: Leaderboard) -> Leaderboard:
    """The leaderboard with each row's promotion (promoted private PGR, held-out PGR, flags) side by side."""
    latest = latest_promotions(conn)
    rows = []
    for row in board.rows:
        p = latest.get(row.submission_id)
        if p is None:
            rows.append(row)
            continue
        held = [h.get("pgr") for h in p.result.get("held_out", {}).values() if h.get("pgr") is not None]
        rows.append(row.model_copy(update={
            "promotion": p.status,
            "promoted_private_pgr": p.private_pgr if p.status == "promoted" else None,
            "held_out_pgr": (sum(held) / len(held)) if held and p.status == "promoted" else None,
            "promotion_flags": p.flags}))
    return board.model_copy(update={"rows": rows})


router = APIRouter(prefix="/api/v1", tags=["promotions"])
Caller = Annotated[Principal, Depends(get_principal)]
Svc = Annotated[Services, Depends(get_services)]


@router.post("/admin/promotions", response_model=QueuedPromotion, status_code=202,
             responses={403: {"description": "not the admin"}, 404: {"description": "unknown submission"},
                        409: {"description": "already queued"}})
async def request_promotion(body: PromotionRequest, caller: Caller, svc: Svc) -> QueuedPromotion:
    """Queue a submission for promotion by clean re-run (admin only); `aarlab promote --queued` runs the queue."""
    require_admin(caller)
    return await svc.writer.apply(enqueue_change(body.submission_id, caller.name))


@router.get("/promotions", response_model=list[PromotionSummary])
async def list_promotions(caller: Caller, svc: Svc) -> list[PromotionSummary]:
    """Recorded promotions (promoted or failed, with their numbers), oldest first. They are scored on the private
    part, so agents see them only after finalize (the admin always)."""

    def query() -> list[PromotionSummary]:
        with svc.db.reader.connect() as conn:
            if not caller.is_admin and finalized_at(conn) is None:
                raise ApiError(403, "promotions are scored on the private part of the test split: agents see them "
                               "after the campaign is finalized")
            return read_promotion_rows(conn)

    return await run_in_threadpool(query)


def linked_submissions(conn: Connection) -> set[str]:
    """Submission ids its own author linked to a method snapshot (a ``result`` post citing both): promotable."""
    from aarlab.server._db import posts

    query = (select(posts.c.submission_id).join(submissions, submissions.c.id == posts.c.submission_id)
             .where(posts.c.kind == "result", posts.c.snapshot_id.is_not(None),
                    posts.c.agent_id == submissions.c.agent_id))
    return set(conn.execute(query).scalars().all())
