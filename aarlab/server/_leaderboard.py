"""The leaderboard (best public score per agent, method and dataset) and the end-of-campaign finalize.

Rows come only from stored evaluations. ``finalize`` selects ONE submission per agent and dataset (the one that set
the agent's Ladder score there; its first submission if none climbed), scores it on the private part (rounded to
SCORE_STEP), writes the final table once, and closes the campaign to new submissions. Private scores are shown
only to the admin (and the operator's views: dashboard, ``campaign status``); agent tokens never see them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, RowMapping, insert, select

from aarlab._files import atomic_write_text
from aarlab.server._audit import utc_now
from aarlab.server._db import agents, datasets, final_results, meta, public_ladder, submissions
from aarlab.server._errors import ApiError
from aarlab.server._schemas import Leaderboard, LeaderboardRow
from aarlab.server._scoring import AnswerKey, coarse_private, round_score, score_private
from aarlab.server._writer import Change
from aarlab.w2s.metrics import DegenerateGapError, pgr


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


def _best_rows(conn: Connection, *, ladder: bool = True) -> list[_Best]:
    """Per agent, method and dataset: the best public score the method itself earned, earliest on ties.

    Under the Ladder a receipt repeats the agent's best score, which another method may have set, so a method's
    own score is the level of its climbing submissions, or the starting level (the weak teacher's accuracy).
    """
    query = (select(agents.c.name, submissions.c.method, submissions.c.dataset, submissions.c.id,
                    submissions.c.public_transfer_acc, submissions.c.public_pgr, public_ladder.c.level,
                    datasets.c.weak_acc, datasets.c.strong_acc)
             .join(agents, agents.c.id == submissions.c.agent_id)
             .join(datasets, datasets.c.name == submissions.c.dataset)
             .outerjoin(public_ladder, public_ladder.c.submission_id == submissions.c.id)
             .order_by(submissions.c.audit_seq))
    best: dict[tuple[str, str, str], _Best] = {}
    for name, method, dataset, sub_id, acc, value, level, weak, strong in conn.execute(query):
        if ladder and level is None:  # did not climb: the method earned only the starting level
            acc = round_score(weak)
            value = _rounded_pgr(weak, strong, acc)
        group = (name, method, dataset)
        seen = best.get(group)
        count = 1 + (seen.evaluations if seen else 0)
        if seen is None or acc > seen.public_transfer_acc:
            best[group] = _Best(name, method, dataset, sub_id, acc, value, count)
        else:
            best[group] = _Best(**{**seen.__dict__, "evaluations": count})
    return sorted(best.values(), key=lambda b: (b.dataset, -b.public_transfer_acc, b.agent, b.method))


def _rounded_pgr(weak: float, strong: float, acc: float) -> float | None:
    try:
        return round_score(pgr(weak, strong, acc))
    except DegenerateGapError:
        return None


def earned_public_score(conn: Connection, row: RowMapping) -> tuple[float, float | None]:
    """The public accuracy and PGR a stored submission earned itself (what a forum post citing it may show).

    Under the Ladder its receipt repeats the agent's best, which an earlier submission may have set: a submission
    that did not climb earned only the starting level once its agent has climbed on that dataset.
    """
    own = (row["public_transfer_acc"], row["public_pgr"])
    if conn.execute(select(public_ladder.c.submission_id)
                    .where(public_ladder.c.submission_id == row["id"])).first() is not None:
        return own
    climbed = conn.execute(select(public_ladder.c.submission_id).where(
        public_ladder.c.agent_id == row["agent_id"], public_ladder.c.dataset == row["dataset"]).limit(1)).first()
    if climbed is None:  # it never climbed there (or the legacy channel): the receipt is its own score
        return own
    weak, strong = conn.execute(select(datasets.c.weak_acc, datasets.c.strong_acc)
                                .where(datasets.c.name == row["dataset"])).one()
    start = round_score(weak)
    return start, _rounded_pgr(weak, strong, start)


def _selected_rows(conn: Connection) -> list[_Best]:
    """ONE submission per agent and dataset: the one that set its Ladder score (its last climb), else its first."""
    query = (select(agents.c.name, submissions.c.method, submissions.c.dataset, submissions.c.id,
                    submissions.c.public_transfer_acc, submissions.c.public_pgr, public_ladder.c.public_acc)
             .join(agents, agents.c.id == submissions.c.agent_id)
             .outerjoin(public_ladder, public_ladder.c.submission_id == submissions.c.id)
             .order_by(submissions.c.audit_seq))
    chosen: dict[tuple[str, str], tuple[float, _Best]] = {}
    counts: dict[tuple[str, str], int] = {}
    for name, method, dataset, sub_id, acc, value, climb in conn.execute(query):
        group = (name, dataset)
        counts[group] = counts.get(group, 0) + 1
        rank = -1.0 if climb is None else climb
        if group not in chosen or rank > chosen[group][0]:
            chosen[group] = (rank, _Best(name, method, dataset, sub_id, acc, value, 0))
    rows = [_Best(**{**b.__dict__, "evaluations": counts[g]}) for g, (_, b) in chosen.items()]
    return sorted(rows, key=lambda b: (b.dataset, -b.public_transfer_acc, b.agent))


def read_leaderboard(conn: Connection, *, private: bool = True, ladder: bool = True) -> Leaderboard:
    """The current leaderboard; after finalize, the final table (one selected row per agent and dataset).

    ``private=False`` (any agent's token) leaves the private columns empty even after finalize.
    """
    done = finalized_at(conn)
    if done is not None:
        final = conn.execute(select(final_results)).mappings().all()
        if final or ladder:
            return Leaderboard(finalized_at=done, rows=_final_rows(conn, final, private))
    return Leaderboard(finalized_at=done, rows=[
        LeaderboardRow(agent=b.agent, method=b.method, dataset=b.dataset, public_transfer_acc=b.public_transfer_acc,
                       public_pgr=b.public_pgr, evaluations=b.evaluations, submission_id=b.submission_id)
        for b in _best_rows(conn, ladder=ladder)])


def _final_rows(conn: Connection, final: Sequence[Any], private: bool) -> list[LeaderboardRow]:
    pgr_of = {r.id: r.public_pgr for r in conn.execute(
        select(submissions.c.id, submissions.c.public_pgr)
        .where(submissions.c.id.in_([r["submission_id"] for r in final])))}
    rows = [LeaderboardRow(agent=r["agent"], method=r["method"], dataset=r["dataset"],
                           public_transfer_acc=r["public_transfer_acc"], public_pgr=pgr_of.get(r["submission_id"]),
                           evaluations=r["evaluations"], submission_id=r["submission_id"],
                           private_transfer_acc=r["private_transfer_acc"] if private else None,
                           private_pgr=r["private_pgr"] if private else None) for r in final]
    return sorted(rows, key=lambda r: (r.dataset, -r.public_transfer_acc, r.agent, r.method))


def finalize_payload(when: str, rows: list[dict]) -> dict:
    """What the ``campaign.finalize`` record's payload hash covers (rows in agent, method, dataset order)."""
    ordered = sorted(rows, key=lambda r: (r["agent"], r["method"], r["dataset"]))
    return {"finalized_at": when, "rows": [{k: r[k] for k in _FINAL_KEYS} for r in ordered]}


_FINAL_KEYS = ("agent", "method", "dataset", "submission_id", "public_transfer_acc", "private_transfer_acc",
               "private_pgr", "evaluations")


def finalize_change(keys: dict[str, AnswerKey], actor: str, *,
                    legacy: bool = False) -> Callable[[Change], Leaderboard]:
    """A state change that scores the selected submissions' private parts, stores the final table and closes.

    ``legacy`` (``public_feedback = "legacy"``, only to measure the old leak): every agent/method/dataset's best
    public submission, exact private scores.
    """

    def apply(change: Change) -> Leaderboard:
        change.flush()  # it reads submissions
        conn = change.conn
        if change.finalized_at is not None:
            raise ApiError(409, f"the campaign was already finalized at {change.finalized_at}; the final table "
                           "is fixed")
        rows = []
        for b in _best_rows(conn, ladder=False) if legacy else _selected_rows(conn):
            blob = conn.execute(select(submissions.c.predictions)
                                .where(submissions.c.id == b.submission_id)).scalar_one()
            key = keys[b.dataset]
            score = score_private(key, np.frombuffer(blob, dtype="<f8"))
            if not legacy:
                score = coarse_private(key, score)
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
