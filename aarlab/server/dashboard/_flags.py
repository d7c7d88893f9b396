"""Integrity flags as the dashboard shows them: the ones stored with each submission (aarlab/server/_integrity.py).

Flags are hints for a human, not verdicts: a flagged submission is worth opening, nothing more. A submission
stored before flags were stored with submissions gets only the label-free checks of its own predictions.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, select

from aarlab.server._db import submission_fingerprints, submissions
from aarlab.server._integrity import IntegrityFlag, constant_flag, read_flags

#: What a template needs of a flag: ``kind``, ``detail`` and ``evidence``.
Flag = IntegrityFlag


def stored_flags(conn: Connection, ids: list[str]) -> dict[str, list[Flag]]:
    """Flags of the given submissions: stored ones, or recomputed label-free ones for older submissions."""
    out = read_flags(conn, ids)
    checked = set(conn.execute(select(submission_fingerprints.c.submission_id)
                               .where(submission_fingerprints.c.submission_id.in_(ids))).scalars())
    older = [i for i in ids if i not in checked]
    if older:
        for r in conn.execute(select(submissions.c.id, submissions.c.predictions)
                              .where(submissions.c.id.in_(older))):
            flag = constant_flag(np.frombuffer(r.predictions, dtype="<f8"))
            out[r.id] = [] if flag is None else [flag]
    return out
