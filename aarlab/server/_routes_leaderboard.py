"""Routes ``/api/v1/leaderboard`` and ``/api/v1/admin/finalize``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from aarlab.server._auth import Principal, require_admin
from aarlab.server._integrity import with_flags
from aarlab.server._leaderboard import finalize_change, read_leaderboard, write_final_table
from aarlab.server._promotion import with_promotions
from aarlab.server._schemas import Leaderboard
from aarlab.server._services import Services, get_principal, get_services

router = APIRouter(prefix="/api/v1", tags=["leaderboard"])
Caller = Annotated[Principal, Depends(get_principal)]
Svc = Annotated[Services, Depends(get_services)]


@router.get("/leaderboard", response_model=Leaderboard)
async def leaderboard(caller: Caller, svc: Svc) -> Leaderboard:
    """Best public score per agent, method and dataset; after finalize one selected row per agent and dataset, with
    its private score for the admin only."""
    legacy = svc.settings.public_feedback == "legacy"

    def query() -> Leaderboard:
        with svc.db.reader.connect() as conn:
            board = with_flags(conn, read_leaderboard(conn, private=caller.is_admin or legacy, ladder=not legacy))
            # promotions are scored on the private part: the admin sees them at once, agents after finalize
            return with_promotions(conn, board) if caller.is_admin or board.finalized_at else board

    return await run_in_threadpool(query)


@router.post("/admin/finalize", response_model=Leaderboard,
             responses={403: {"description": "not the admin"}, 409: {"description": "already finalized"}})
async def finalize(caller: Caller, svc: Svc) -> Leaderboard:
    """End the campaign: score each agent's selected submission per dataset on the private part (rounded), store the
    final table, refuse further submissions (admin only)."""
    require_admin(caller)
    table = await svc.writer.apply(finalize_change(svc.keys, caller.name,
                                                   legacy=svc.settings.public_feedback == "legacy"))
    write_final_table(svc.state_dir, table)
    return table
