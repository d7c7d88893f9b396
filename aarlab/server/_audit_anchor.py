"""An exported chain head: the anchor that lets ``audit verify`` catch a chain rewritten and re-hashed in the database.

Anyone who can write the database can edit a row and recompute every hash with the public algorithm; the chain then
checks out on its own. ``aarlab audit export-head`` writes the head (and a 16-hex-digit prefix of every record's
hash, so the first rewritten record can be named) to a file the operator keeps outside the state dir;
``aarlab audit verify --anchor FILE`` then fails if any record up to that head differs. The chain may have grown
since the export: only the records the anchor covers are compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from aarlab.server._audit import utc_now
from aarlab.server._db import Database, audit_log, meta

PREFIX = 16


class AuditAnchor(BaseModel):
    """``head.json``: the chain head of one state dir at one moment."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    state_id: str
    seq: int = Field(ge=0, description="the last record covered")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="that record's hash")
    exported_at: str
    prefixes: list[str] = Field(description=f"the first {PREFIX} hex digits of every record's hash, seq 1..seq")


def export_anchor(db: Database) -> AuditAnchor:
    """The current chain head of ``db`` as an anchor to keep outside the state dir."""
    with db.reader.connect() as conn:
        state_id = conn.execute(select(meta.c.value).where(meta.c.key == "state_id")).scalar() or ""
        hashes = conn.execute(select(audit_log.c.hash).order_by(audit_log.c.seq)).scalars().all()
    return AuditAnchor(state_id=state_id, seq=len(hashes), hash=hashes[-1] if hashes else "0" * 64,
                       exported_at=utc_now(), prefixes=[h[:PREFIX] for h in hashes])


def write_anchor(db: Database, path: Path) -> AuditAnchor:
    """Export the head of ``db`` to ``path`` (atomically, mode 0600); returns it."""
    from aarlab._files import atomic_write_text

    anchor = export_anchor(db)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_text(path, anchor.model_dump_json() + "\n")
    path.chmod(0o600)
    return anchor


def anchor_break(anchor: AuditAnchor, log: list[Any], state_id: str | None) -> tuple[int, str] | None:
    """(seq, reason) of the first record that differs from ``anchor``, or None when the chain extends it."""
    when = f"the anchor exported at {anchor.exported_at}"
    if anchor.state_id != (state_id or ""):
        return 0, f"{when} belongs to state id {anchor.state_id}, this database holds {state_id}"
    if len(anchor.prefixes) != anchor.seq:
        return 0, f"{when} is malformed: it covers {anchor.seq} records but lists {len(anchor.prefixes)} hashes"
    for record, prefix in zip(log, anchor.prefixes, strict=False):
        if record.hash[:PREFIX] != prefix:
            return record.seq, (f"its hash differs from {when}: the chain was rewritten and re-hashed from this "
                                "record on")
    if len(log) < anchor.seq:
        return len(log) + 1, f"the log ends at record {len(log)} but {when} covers {anchor.seq} records (removed)"
    if anchor.seq and log[anchor.seq - 1].hash != anchor.hash:
        return anchor.seq, f"its hash differs from {when}"
    return None
