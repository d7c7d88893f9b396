"""The leaderboard (best stored public score per agent, method and dataset) and the end-of-campaign finalize.

Rows come only from stored evaluations. ``finalize`` scores, for each agent/method/dataset, the submission with
the best public accuracy (the earliest one on ties) on the private part, writes the final table once, and
closes the campaign to new submissions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, insert, select

from aarlab._files import atomic_write_text
from aarlab.server._audit import utc_now
from aarlab.server._db import agents, final_results, meta, submissions
from aarlab.server._errors import ApiError
from aarlab.server._schemas import Leaderboard, LeaderboardRow
from aarlab.server._scoring import AnswerKey, score_private
from aarlab.server._writer import Change


@dataclass(frozen=True)
class _Best:
    agent: str
    method: str
    dataset: str
    submission_id: str
    public_transfer_acc: float
    public_pgr: float | None
    evaluations: int


def finalized_at(conn: Connection) -> str | None:
    """When the campaign was finalized (None while it runs)."""
    return conn.execute(select(meta.c.value).where(meta.c.key == "finalized_at")).scalar()


def _best_rows(conn: Connection) -> list[_Best]:
    query = (select(agents.c.name, submissions.c.method, submissions.c.dataset, submissions.c.id,
                    submissions.c.public_transfer_acc, submissions.c.public_pgr)
             .join(agents, agents.c.id == submissions.c.agent_id)
             .order_by(submissions.c.audit_seq))
    best: dict[tuple[str, str, str], _Best] = {}
    for name, method, dataset, sub_id, acc, value in conn.execute(query):
        group = (name, method, dataset)
        seen = best.get(group)
        count = 1 + (seen.evaluations if seen else 0)
        if seen is None or acc > seen.public_transfer_acc:
            best[group] = _Best(name, method, dataset, sub_id, acc, value, count)
        else:
            best[group] = _Best(**{**seen.__dict__, "evaluations": count})
    return sorted(best.values(), key=lambda b: (b.dataset, -b.public_transfer_acc, b.agent, b.method))


def read_leaderboard(conn: Connection) -> Leaderboard:
    """The current leaderboard; private columns are filled only after finalize."""
    done = finalized_at(conn)
    private: dict[tuple[str, str, str], tuple[float, float | None]] = {}
    if done is not None:
        for r in conn.execute(select(final_results)).mappings():
            private[(r["agent"], r["method"], r["dataset"])] = (r["private_transfer_acc"], r["private_pgr"])
    rows = []
    for b in _best_rows(conn):
        acc, value = private.get((b.agent, b.method, b.dataset), (None, None))
        rows.append(LeaderboardRow(agent=b.agent, method=b.method, dataset=b.dataset,
                                   public_transfer_acc=b.public_transfer_acc, public_pgr=b.public_pgr,
                                   evaluations=b.evaluations, submission_id=b.submission_id,
                                   private_transfer_acc=acc, private_pgr=value))
    return Leaderboard(finalized_at=done, rows=rows)


def finalize_payload(when: str, rows: list[dict]) -> dict:
    """What the ``campaign.finalize`` record's payload hash covers (rows in agent, method, dataset order)."""
    ordered = sorted(rows, key=lambda r: (r["agent"], r["method"], r["dataset"]))
    return {"finalized_at": when, "rows": [{k: r[k] for k in _FINAL_KEYS} for r in ordered]}


_FINAL_KEYS = ("agent", "method", "dataset", "submission_id", "public_transfer_acc", "private_transfer_acc",
               "private_pgr", "evaluations")


def finalize_change(keys: dict[str, AnswerKey], actor: str) -> Callable[[Change], Leaderboard]:
    """A state change that scores the private part, stores the final table and closes the campaign."""

    def apply(change: Change) -> Leaderboard:
        change.flush()  # it reads submissions
        conn = change.conn
        if change.finalized_at is not None:
            raise ApiError(409, f"the campaign was already finalized at {change.finalized_at}; the final table "
                           "is fixed")
        rows = []
        for b in _best_rows(conn):
            blob = conn.execute(select(submissions.c.predictions)
                                .where(submissions.c.id == b.submission_id)).scalar_one()
            score = score_private(keys[b.dataset], np.frombuffer(blob, dtype="<f8"))
            rows.append({"agent": b.agent, "method": b.method, "dataset": b.dataset,
                         "submission_id": b.submission_id, "public_transfer_acc": b.public_transfer_acc,
                         "private_transfer_acc": score.transfer_acc, "private_pgr": score.pgr,
                         "evaluations": b.evaluations})
        if rows:
            conn.execute(insert(final_results), rows)
        when = utc_now()
        conn.execute(insert(meta).values(key="finalized_at", value=when))
        change.finalized_at = when
        change.audit(actor, "campaign.finalize", finalize_payload(when, rows), time=when)
        return read_leaderboard(conn)

    return apply


def write_final_table(state_dir: Path, table: Leaderboard) -> Path:
    """Write the finalized leaderboard to ``<state>/final/leaderboard.json``; returns its path."""
    out = state_dir / "final" / "leaderboard.json"
    out.parent.mkdir(mode=0o700, exist_ok=True)
    atomic_write_text(out, table.model_dump_json(indent=2) + "\n")
    return out
