"""JSON endpoints the pages poll for live updates (overview numbers, charts, transcript tail).

Fragments are rendered by the same templates as the pages, so a number or a transcript event looks the same
whether it arrived with the page or later; the browser inserts server-escaped HTML only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from aarlab.server._params import Count
from aarlab.server._services import Services, get_services
from aarlab.server.dashboard._files import read_transcript
from aarlab.server.dashboard._pages import Seen, charts
from aarlab.server.dashboard._site import dashboard_of

router = APIRouter(prefix="/dashboard/api", include_in_schema=False)
Svc = Annotated[Services, Depends(get_services)]


@router.get("/overview")
async def overview(request: Request, visitor: Seen, svc: Svc) -> dict[str, Any]:
    """Overview numbers, the agents table's rows and the charts, as of now."""
    board = dashboard_of(request)
    data = await run_in_threadpool(board.data, svc)
    rows = board.env.get_template("_agents_rows.html").render(data=data)
    return {"generated_at": data.generated_at, "best_public_pgr": data.best_public_pgr,
            "evaluations": len(data.evaluations), "total_cost_usd": round(data.total_cost_usd, 4),
            "campaign": data.campaign, "agents_html": rows, "charts": charts(data),
            "agents": [{"name": a.name, "state": a.state, "control_state": a.control_state,
                        "operator_state": a.operator_state,
                        "cost_usd": a.cost_usd, "cost_per_hour": a.cost_per_hour,
                        "best_public_pgr": a.best_public_pgr, "submissions": a.submissions}
                       for a in data.agents]}


@router.get("/points")
async def points(request: Request, visitor: Seen, svc: Svc) -> dict[str, Any]:
    """Every evaluation's (time, public PGR) by dataset and agent, and each dataset's baselines."""
    data = await run_in_threadpool(dashboard_of(request).data, svc)
    return {"datasets": {d.name: {"baselines": [{"label": b.label, "pgr": b.pgr} for b in d.baselines],
                                  "points": [{"t": e.time, "pgr": e.public_pgr, "agent": e.agent, "id": e.id}
                                             for e in data.evaluations
                                             if e.dataset == d.name and e.public_pgr is not None]}
                         for d in data.datasets}}


@router.get("/agents/{name}/transcript")
async def transcript(request: Request, name: str, visitor: Seen,
                     after: Annotated[Count, Query()] = 0) -> dict[str, Any]:
    """Transcript events after byte offset ``after``, rendered as rows, and the offset to poll from next."""
    board = dashboard_of(request)
    events, offset = await run_in_threadpool(read_transcript, board.campaign_dir, name, after)
    html = board.env.get_template("_events.html").render(events=events)
    return {"html": html, "next": offset, "count": len(events)}
