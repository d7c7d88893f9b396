"""The append-only audit chain: every state change appends a record whose hash covers the previous record.

A record is ``{seq, time, actor, action, payload_sha256, prev_hash, hash}`` with
``hash = sha256(canonical JSON of every other field)``. It is written in the same transaction as the change it
records, so a committed change always has its record and vice versa.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from aarlab.server._db import (
    Database,
    agents,
    audit_head,
    audit_log,
    datasets,
    final_results,
    meta,
    submissions,
    test_labels,
)

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    """The one byte encoding that every hash in the service is taken over (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditRecord:
    """One link of the chain."""

    seq: int
    time: str
    actor: str
    action: str
    payload_sha256: str
    prev_hash: str
    hash: str


def record_hash(seq: int, time: str, actor: str, action: str, payload_sha256: str, prev_hash: str) -> str:
    """The hash of a record: covers its fields and, through ``prev_hash``, every earlier record."""
    body = {"seq": seq, "time": time, "actor": actor, "action": action,
            "payload_sha256": payload_sha256, "prev_hash": prev_hash}
    return sha256_hex(canonical_json(body))


@dataclass(frozen=True)
class ChainHead:
    """The last record's seq and hash (seq 0 and the genesis hash for an empty chain)."""

    seq: int
    hash: str


_READ_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_WRITE_HEAD = update(audit_head).where(audit_head.c.id == 1)


def lock_head(conn: Connection) -> ChainHead:
    """Read the chain head, locking it until the transaction ends (creates it on an empty database)."""
    row = conn.execute(_READ_HEAD).first()
    if row is None:
        conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS_HASH))
        return ChainHead(0, GENESIS_HASH)
    return ChainHead(row.seq, row.hash)


def write_head(conn: Connection, head: ChainHead) -> None:
    """Store the chain head (once per transaction, after its last record)."""
    conn.execute(_WRITE_HEAD, {"seq": head.seq, "hash": head.hash})


def new_record(head: ChainHead, actor: str, action: str, payload: Mapping[str, Any], time: str) -> AuditRecord:
    """The record that follows ``head`` (the caller inserts it and keeps it as the new head)."""
    payload_sha = sha256_hex(canonical_json(payload))
    seq = head.seq + 1
    return AuditRecord(seq, time, actor, action, payload_sha, head.hash,
                       record_hash(seq, time, actor, action, payload_sha, head.hash))


# --- payloads: one function per action, so `verify` can recompute them from the stored rows ---------------------

def submission_payload(row: Mapping[str, Any], agent: str) -> dict[str, Any]:
    """What a ``submission.create`` record's payload hash covers."""
    keys = ("id", "dataset", "method", "predictions_sha256", "public_transfer_acc", "public_pgr",
            "created_at", "receipt")
    return {"agent": agent, **{k: row[k] for k in keys}}


def agent_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an ``agent.create`` record's payload hash covers."""
    return {k: row[k] for k in ("name", "token_sha256", "is_admin", "budget", "created_at")}


def init_payload(suite: str, dataset_rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the ``state.init`` record's payload hash covers: the suite and each dataset's baselines and labels."""
    keys = ("kind", "n_test", "n_public", "weak_acc", "strong_acc", "baseline_version", "labels_sha256")
    return {"suite": suite, "datasets": {d["name"]: {k: d[k] for k in keys} for d in dataset_rows}}


def labels_digest(rows: list[tuple[int, str, bool, bool]]) -> str:
    """Hash of one dataset's ground truth and split: (position, example_id, positive, public) in position order."""
    return sha256_hex(canonical_json([list(r) for r in rows]))


@dataclass(frozen=True)
class VerifyReport:
    """Result of recomputing the chain: ``first_broken`` is None when every link holds."""

    records: int
    first_broken: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """Whether the chain and every row it covers are intact."""
        return self.first_broken is None


def _chain_break(conn: Connection) -> tuple[int, VerifyReport | None]:
    prev, count = GENESIS_HASH, 0
    for r in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings():
        count += 1
        if r["seq"] != count:
            return count, VerifyReport(count, count, f"record {count} is missing (next stored seq is {r['seq']})")
        if r["prev_hash"] != prev:
            return count, VerifyReport(count, count, f"record {count}: prev_hash does not match record {count - 1}")
        expected = record_hash(r["seq"], r["time"], r["actor"], r["action"], r["payload_sha256"], r["prev_hash"])
        if r["hash"] != expected:
            return count, VerifyReport(count, count, f"record {count}: stored hash does not match its fields")
        prev = r["hash"]
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).first()
    if count and (head is None or (head.seq, head.hash) != (count, prev)):
        return count, VerifyReport(count, count, f"the chain head names record {head.seq if head else None} but the "
                                   f"log ends at record {count} (records were removed or added)")
    return count, None


def _payload_hashes(conn: Connection) -> dict[int, str]:
    return dict(conn.execute(select(audit_log.c.seq, audit_log.c.payload_sha256)).all())


def _row_breaks(conn: Connection) -> list[tuple[int, str]]:
    """(seq, reason) for every stored row whose content no longer matches the payload hash of its record."""
    hashes = _payload_hashes(conn)
    names = dict(conn.execute(select(agents.c.id, agents.c.name)).all())
    from aarlab.server._control import control_breaks, created_budgets

    created = created_budgets(conn)  # a budget change updates agents.budget; agent.create covered the first one
    broken: list[tuple[int, str]] = []
    for a in conn.execute(select(agents)).mappings():
        row = {**a, "budget": created.get(a["id"], a["budget"])}
        if hashes.get(a["audit_seq"]) != sha256_hex(canonical_json(agent_payload(row))):
            broken.append((a["audit_seq"], f"agent {a['name']!r} differs from what record {a['audit_seq']} covers"))
    for s in conn.execute(select(submissions)).mappings():
        payload = submission_payload(dict(s), names.get(s["agent_id"], "?"))
        if hashes.get(s["audit_seq"]) != sha256_hex(canonical_json(payload)) or \
                sha256_hex(s["predictions"]) != s["predictions_sha256"]:
            broken.append((s["audit_seq"], f"submission {s['id']} differs from what record {s['audit_seq']} covers"))
    dataset_rows = [dict(d) for d in conn.execute(select(datasets)).mappings()]
    init = conn.execute(select(audit_log.c.seq, audit_log.c.payload_sha256)
                        .where(audit_log.c.action == "state.init")).first()
    suite = conn.execute(select(meta.c.value).where(meta.c.key == "suite")).scalar()
    if (init is None and dataset_rows) or (init is not None and init.payload_sha256 != sha256_hex(
            canonical_json(init_payload(suite or "", dataset_rows)))):
        broken.append((init.seq if init else 1, "datasets, baselines or suite differ from what state.init covers"))
    broken.extend(_final_breaks(conn, hashes))
    broken.extend(control_breaks(conn, hashes))
    for d in dataset_rows:
        rows = conn.execute(select(test_labels.c.position, test_labels.c.example_id, test_labels.c.positive,
                                   test_labels.c.public).where(test_labels.c.dataset == d["name"])
                            .order_by(test_labels.c.position)).all()
        if labels_digest([tuple(r) for r in rows]) != d["labels_sha256"]:
            broken.append((init.seq if init else 1,
                           f"ground truth of dataset {d['name']!r} differs from what state.init covers"))
    return broken


def _final_breaks(conn: Connection, hashes: dict[int, str]) -> list[tuple[int, str]]:
    from aarlab.server._leaderboard import finalize_payload

    record = conn.execute(select(audit_log.c.seq).where(audit_log.c.action == "campaign.finalize")).first()
    when = conn.execute(select(meta.c.value).where(meta.c.key == "finalized_at")).scalar()
    if record is None:
        return [] if when is None else [(0, "the campaign is marked finalized but no record covers it")]
    rows = [dict(r) for r in conn.execute(select(final_results)).mappings()]
    if hashes.get(record.seq) != sha256_hex(canonical_json(finalize_payload(when or "", rows))):
        return [(record.seq, f"the final table differs from what record {record.seq} covers")]
    return []


def verify_chain(db: Database) -> VerifyReport:
    """Recompute every link and every covered row; report the first broken link (lowest seq)."""
    with db.reader.connect() as conn:
        count, chain = _chain_break(conn)
        rows = _row_breaks(conn)
    candidates = ([(chain.first_broken, chain.reason)] if chain else []) + rows
    if not candidates:
        return VerifyReport(count, None, None)
    seq, reason = min(candidates, key=lambda c: c[0] or 0)
    return VerifyReport(count, seq, reason)
