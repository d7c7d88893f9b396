"""The promotion queue: requests from the admin route or a campaign's end, run by ``aarlab promote --queued``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aarlab.campaign._promote import PromotionError


def enqueue(state_dir: Path, submission_id: str, requested_by: str = "admin") -> dict[str, Any]:
    """Queue a promotion request from the command line or a campaign's end; :class:`PromotionError` if refused."""
    from aarlab.server._errors import ApiError
    from aarlab.server._promotion import enqueue_change
    from aarlab.server._state import open_state
    from aarlab.server._writer import changing

    state = open_state(state_dir)
    try:
        with changing(state.db) as change:
            return enqueue_change(submission_id, requested_by)(change).model_dump()
    except ApiError as err:
        raise PromotionError(err.message) from None
    finally:
        state.db.dispose()


def queued_requests(state_dir: Path) -> list[str]:
    """Submission ids with a queued promotion request, oldest request first (each once)."""
    from aarlab.server._db import promotion_requests
    from aarlab.server._state import open_state

    state = open_state(state_dir)
    try:
        with state.db.reader.connect() as conn:
            rows = conn.execute(select(promotion_requests.c.submission_id)
                                .where(promotion_requests.c.state == "queued")
                                .order_by(promotion_requests.c.id)).scalars().all()
    finally:
        state.db.dispose()
    return list(dict.fromkeys(rows))


def refuse_request(state_dir: Path, submission_id: str) -> None:
    """Close a queued request that cannot run (its submission has no snapshot, ...): state ``refused``."""
    from sqlalchemy import update

    from aarlab.server._db import promotion_requests
    from aarlab.server._state import open_state
    from aarlab.server._writer import changing

    state = open_state(state_dir)
    try:
        with changing(state.db) as change:  # the server's write lock, though no record covers the queue state
            change.conn.execute(update(promotion_requests)
                                .where(promotion_requests.c.submission_id == submission_id,
                                       promotion_requests.c.state == "queued").values(state="refused"))
    finally:
        state.db.dispose()


def enqueue_best(state_dir: Path, log: Callable[[str], None] = lambda _m: None) -> list[str]:
    """At a campaign's end: queue each agent's best submission per dataset when its author linked it to a method
    snapshot; returns the queued submission ids. Best: the top public accuracy; among submissions tied there, the
    latest one the agent linked to a snapshot (its considered pick: with a frozen Ladder an evolve agent's new
    programs tie with its first baseline, and its end-of-run nomination is the latest of them), else the earliest.
    Already queued or promoted submissions are skipped."""
    from aarlab.server._db import agents, promotion_requests, promotions, submissions
    from aarlab.server._promotion import linked_submissions
    from aarlab.server._state import open_state

    state = open_state(state_dir)
    try:
        with state.db.reader.connect() as conn:
            linked = linked_submissions(conn)
            best: dict[tuple[str, str], tuple[float, str]] = {}
            for name, dataset, sid, acc in conn.execute(
                    select(agents.c.name, submissions.c.dataset, submissions.c.id, submissions.c.public_transfer_acc)
                    .join(agents, agents.c.id == submissions.c.agent_id).order_by(submissions.c.audit_seq)):
                top = best.get((name, dataset))
                if top is None or acc > top[0] or (acc == top[0] and sid in linked):
                    best[(name, dataset)] = (acc, sid)
            done = set(conn.execute(select(promotions.c.submission_id)).scalars().all())
            done |= set(conn.execute(select(promotion_requests.c.submission_id)).scalars().all())
    finally:
        state.db.dispose()
    queued = []
    for (name, dataset), (_, sid) in sorted(best.items()):
        if sid in done:
            continue
        if sid not in linked:
            log(f"{name}'s best submission on {dataset} ({sid}) cannot be promoted: no method snapshot")
            continue
        enqueue(state_dir, sid, requested_by="campaign")
        queued.append(sid)
    return queued
