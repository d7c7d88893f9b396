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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from aarlab.server._db import Database, agents, audit_head, audit_log, audit_payloads, meta

if TYPE_CHECKING:
    from aarlab.server._audit_anchor import AuditAnchor

GENESIS_HASH = "0" * 64
#: meta key: the first record whose payload is stored (1 for a state dir created with payload storage).
AUDIT_PAYLOADS_SINCE = "audit_payloads_since"


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
    """Result of recomputing the chain: ``first_broken`` is None when every link and every covered row holds.

    ``action`` is the first broken record's action; ``notes`` say what could not be checked (records that predate
    stored payloads, records no rule re-derives); ``anchored`` whether an exported head was checked.
    """

    records: int
    first_broken: int | None
    reason: str | None
    action: str | None = None
    notes: tuple[str, ...] = ()
    anchored: bool = False

    @property
    def ok(self) -> bool:
        """Whether the chain and every row it covers are intact."""
        return self.first_broken is None


def _chain_break(log: list[Any], head: Any) -> tuple[int, str] | None:
    prev, count = GENESIS_HASH, 0
    for r in log:
        count += 1
        if r.seq != count:
            return count, f"record {count} is missing (next stored seq is {r.seq})"
        if r.prev_hash != prev:
            return count, f"prev_hash does not match record {count - 1}'s hash"
        if r.hash != record_hash(r.seq, r.time, r.actor, r.action, r.payload_sha256, r.prev_hash):
            return count, "its stored hash does not match its fields (audit_log row edited)"
        prev = r.hash
    if count and (head is None or (head.seq, head.hash) != (count, prev)):
        return count, (f"the chain head names record {head.seq if head else None} but the log ends at record "
                       f"{count} (records were removed or added)")
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def payload_diff(derived: Any, stored: Any, path: str = "") -> str:
    """Where a re-derived payload differs from the stored one: 'column x is A, the record covers B' (nested keys
    and list items are named with dots and brackets)."""
    if isinstance(derived, dict) and isinstance(stored, dict):
        parts = [payload_diff(derived.get(k, "<absent>"), stored.get(k, "<absent>"), f"{path}.{k}" if path else k)
                 for k in sorted(set(derived) | set(stored)) if derived.get(k, "<absent>") != stored.get(k, "<absent>")]
        return "; ".join(parts) or "identical"
    if isinstance(derived, list) and isinstance(stored, list) and len(derived) == len(stored) and derived != stored:
        i = next(i for i, (a, b) in enumerate(zip(derived, stored, strict=True)) if a != b)
        return payload_diff(derived[i], stored[i], f"{path}[{i}]")
    return f"column {path} is {_show(derived)}, the record covers {_show(stored)}"


def _read_log(conn: Connection) -> tuple[list[Any], Any, dict[int, str]]:
    log = list(conn.execute(select(audit_log).order_by(audit_log.c.seq)).all())
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).first()
    stored: dict[int, str] = dict(conn.execute(select(audit_payloads.c.seq, audit_payloads.c.payload)).all())
    return log, head, stored


def _payload_breaks(log: list[Any], stored: dict[int, str]) -> tuple[dict[int, dict[str, Any]], list[tuple[int, str]]]:
    """The stored payloads that match their record's hash (parsed), and a break for each that does not."""
    hashes = {r.seq: r.payload_sha256 for r in log}
    good: dict[int, dict[str, Any]] = {}
    breaks = []
    for seq, text in stored.items():
        if seq not in hashes:
            breaks.append((seq, f"audit_payloads row {seq} belongs to no record"))
        elif sha256_hex(text.encode()) != hashes[seq]:
            breaks.append((seq, f"audit_payloads row {seq} does not hash to the record's payload_sha256 (the stored "
                           "payload was edited)"))
        else:
            good[seq] = json.loads(text)
    return good, breaks


def _compare(derived: Any, records: Any, hashes: dict[int, str]) -> tuple[int, str] | None:
    from aarlab.server._audit_rows import LEGACY_EXACT

    seq, label = derived.seq, f"{derived.where}"
    action = records.actions.get(seq)
    if action is None:
        return seq or 0, f"{label} names record {seq}, which does not exist"
    if action != derived.action:
        return seq, f"{label} names record {seq}, which is a {action} record, not {derived.action}"
    stored = records.payloads.get(seq)
    if stored is not None:
        return None if stored == derived.payload else (seq, f"{label}: {payload_diff(derived.payload, stored)}")
    if action in LEGACY_EXACT and sha256_hex(canonical_json(derived.payload)) != hashes[seq]:
        return seq, f"{label} differs from what the record covers (it predates stored payloads, so the " \
                    "column cannot be named)"
    return None


def _row_breaks(conn: Connection, log: list[Any], stored: dict[int, str]) -> tuple[list[tuple[int, str]], list[str]]:
    """(seq, reason) for every covered row that differs from its record, and notes on what went unchecked."""
    from aarlab.server._audit_rows import ROW_MAKING, RULES, Break, Records

    good, breaks = _payload_breaks(log, stored)
    hashes = {r.seq: r.payload_sha256 for r in log}
    records = Records(actions={r.seq: r.action for r in log}, actors={r.seq: r.actor for r in log},
                      payloads=good, hashes=hashes, names=dict(conn.execute(select(agents.c.id, agents.c.name)).all()))
    derived_seqs: set[int] = set()
    for rule in RULES:
        try:
            for item in rule(conn, records):
                if isinstance(item, Break):
                    breaks.append((item.seq, item.reason))
                    continue
                derived_seqs.add(item.seq)
                broken = _compare(item, records, hashes)
                if broken is not None:
                    breaks.append(broken)
        except (ValueError, TypeError, KeyError, AttributeError) as err:  # rows edited into something unreadable
            name = getattr(rule, "__name__", type(rule).__name__).strip("_")
            breaks.append((0, f"the {name} rows could not be re-derived ({type(err).__name__}: {err})"))
    for seq in sorted(good):
        if records.actions[seq] in ROW_MAKING and seq not in derived_seqs:
            breaks.append((seq, "the row(s) this record made are missing (deleted)"))
    notes = []
    since_text = conn.execute(select(meta.c.value).where(meta.c.key == AUDIT_PAYLOADS_SINCE)).scalar()
    since = int(since_text) if since_text and since_text.isdigit() else min(stored, default=len(log) + 1)
    legacy = [r.seq for r in log if r.seq < since and r.seq not in stored]
    breaks.extend((r.seq, f"audit_payloads row {r.seq} is missing (every record from {since} on stores its payload)")
                  for r in log if r.seq >= since and r.seq not in stored)
    if legacy:
        notes.append(f"{len(legacy)} records (seq {legacy[0]}..{legacy[-1]}) predate row coverage (no stored "
                     "payload): their links are checked, their rows only where the payload format is unchanged "
                     "(state.init, agents, submissions, votes, control actions, finalize)")
    unknown = sorted({records.actions[s] for s in good if s not in derived_seqs} - ROW_MAKING - {"post.vote"})
    if unknown:
        notes.append(f"no rule re-derives records of {', '.join(unknown)} from rows (register one in "
                     "aarlab/server/_audit_rows.py); their links and payload hashes are checked")
    return breaks, notes


def verify_chain(db: Database, anchor: AuditAnchor | None = None) -> VerifyReport:
    """Recompute every link and every covered row (and check ``anchor``, an exported head); report the first break.

    The first break is the one with the lowest record seq; one that no record explains (seq 0: a row no record made,
    another campaign's anchor) is reported only when nothing else broke.
    """
    from aarlab.server._audit_anchor import anchor_break

    with db.reader.connect() as conn:
        log, head, stored = _read_log(conn)
        breaks, notes = _row_breaks(conn, log, stored)
        state_id = conn.execute(select(meta.c.value).where(meta.c.key == "state_id")).scalar()
    chain = _chain_break(log, head)
    anchored = anchor_break(anchor, log, state_id) if anchor is not None else None
    # A broken link or anchor explains whatever rows differ at the same record: report it first.
    breaks = [b for b in (chain, anchored) if b is not None] + breaks
    actions = {r.seq: r.action for r in log}
    if not breaks:
        return VerifyReport(len(log), None, None, notes=tuple(notes), anchored=anchor is not None)
    seq, reason = min(breaks, key=lambda b: (b[0] == 0, b[0]))  # a break no record explains (0) comes last
    return VerifyReport(len(log), seq, reason, actions.get(seq), tuple(notes), anchored=anchor is not None)
