"""What each audit record covers in the tables: ``audit verify`` re-derives every record's payload from the rows.

A *rule* reads the rows of one kind of state and yields, for each record that made them, the payload that record
must carry (:class:`Derived`), plus any inconsistency that no single payload shows (:class:`Break`: vote totals
that no longer match the votes, a row that names a record of another kind). ``verify`` compares each derived
payload with the payload stored beside its record, naming the columns that differ; records written before
payloads were stored are compared by their payload hash where the payload's format has not changed since.

Covering a new table is one registration: ``register(RowRule(table, "thing.create"))`` for a table whose rows
carry ``audit_seq`` and whose record payload holds its columns (``agent_id`` as the agent's name ``agent``),
or ``register(function)`` for a rule of its own.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, func, select

from aarlab.server._audit import (
    agent_payload,
    init_payload,
    labels_digest,
    sha256_hex,
    submission_payload,
)
from aarlab.server._db import (
    agent_controls,
    agent_messages,
    agents,
    control_log,
    datasets,
    final_results,
    meta,
    post_tags,
    post_versions,
    posts,
    posts_fts,
    snapshot_pushes,
    snapshots,
    submissions,
    test_labels,
    usage,
    votes,
)


@dataclass(frozen=True)
class Derived:
    """The payload that record ``seq`` (of ``action``) must carry, re-derived from ``where`` (a table and row)."""

    seq: int
    action: str
    payload: dict[str, Any]
    where: str


@dataclass(frozen=True)
class Break:
    """A covered row that no record explains: ``seq`` is the record it belongs to (0: none)."""

    seq: int
    reason: str


@dataclass
class Records:
    """What verify read from the log: each record's action and actor, and the stored payloads that match their
    record's hash (parsed)."""

    actions: dict[int, str]
    actors: dict[int, str]
    payloads: dict[int, dict[str, Any]]
    hashes: dict[int, str]  # each record's payload_sha256
    names: dict[int, str] = field(default_factory=dict)  # agent id -> name

    def of(self, *actions: str) -> list[int]:
        """Seqs (ascending) of stored payloads of these actions."""
        return sorted(s for s in self.payloads if self.actions.get(s) in actions)

    def name(self, agent_id: int) -> str:
        """An agent's name (or a placeholder naming the missing id)."""
        return self.names.get(agent_id, f"<no agent id {agent_id}>")


Rule = Callable[[Connection, Records], Iterator[Derived | Break]]
RULES: list[Rule] = []


def register(rule: Rule) -> Rule:
    """Add a rule that ``audit verify`` runs over every state dir (usable as a decorator)."""
    RULES.append(rule)
    return rule


@dataclass(frozen=True)
class RowRule:
    """Rows of ``table``, each made by the record in its ``seq_column``, whose payload holds every column."""

    table: Table
    action: str
    seq_column: str = "audit_seq"
    exclude: tuple[str, ...] = ()

    def __call__(self, conn: Connection, records: Records) -> Iterator[Derived | Break]:
        """One derived payload per row: its columns, ``agent_id`` as ``agent`` (the agent's name)."""
        keys = [c.name for c in self.table.primary_key.columns]
        for row in conn.execute(select(self.table)).mappings():
            payload = {("agent" if c.name == "agent_id" else c.name):
                       (records.name(row[c.name]) if c.name == "agent_id" else row[c.name])
                       for c in self.table.columns if c.name != self.seq_column and c.name not in self.exclude}
            where = f"{self.table.name} row {', '.join(str(row[k]) for k in keys)}"
            yield Derived(row[self.seq_column], self.action, payload, where)


#: Actions whose payload format is unchanged since before payloads were stored: for their old records, verify
#: compares the derived payload's hash with the record's (for other old records it can only check the links).
LEGACY_EXACT = frozenset({"state.init", "agent.create", "submission.create", "campaign.finalize", "post.vote",
                          "control.pause", "control.resume", "control.stop", "control.message", "control.budget",
                          "promotion.record", "promotion.request"})

#: Actions whose every record must be re-derived from a row that still exists (a vote's row goes when a later
#: vote replaces it; the vote replay checks those).
ROW_MAKING = frozenset(LEGACY_EXACT - {"post.vote"} | {"post.create", "post.edit", "snapshot.push"})


@register
def _init(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    rows = [dict(d) for d in conn.execute(select(datasets).order_by(datasets.c.name)).mappings()]
    seq = next((s for s, a in records.actions.items() if a == "state.init"), 0)
    suite = conn.execute(select(meta.c.value).where(meta.c.key == "suite")).scalar()
    if seq == 0:
        if rows:
            yield Break(0, "datasets are stored but no state.init record covers them")
        return
    yield Derived(seq, "state.init", init_payload(suite or "", rows), "datasets and meta.suite")
    for d in rows:
        labels = conn.execute(select(test_labels.c.position, test_labels.c.example_id, test_labels.c.positive,
                                     test_labels.c.public).where(test_labels.c.dataset == d["name"])
                              .order_by(test_labels.c.position)).all()
        if labels_digest([tuple(r) for r in labels]) != d["labels_sha256"]:
            yield Break(seq, f"test_labels of dataset {d['name']!r} (ground truth or split) differ from what "
                        "state.init covers")


@register
def _agents(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    from aarlab.server._control import created_budgets

    try:
        created = created_budgets(conn)  # a budget change updates agents.budget; agent.create covered the first
    except ValueError:
        created = {}  # control_log edited into something unreadable: the control rule reports it
    rows = conn.execute(select(agents).order_by(agents.c.audit_seq)).mappings().all()
    for a in rows:
        row = {**a, "budget": created.get(a["id"], a["budget"])}
        yield Derived(a["audit_seq"], "agent.create", agent_payload(row), f"agents row {a['name']!r}")
    if conn.dialect.name == "sqlite":  # ids follow creation there (PostgreSQL sequences may skip)
        for n, a in enumerate(rows, start=1):
            if a["id"] != n:
                yield Break(a["audit_seq"], f"agents row {a['name']!r} column id is {a['id']} but it was agent "
                            f"number {n} created")
                break


@register
def _submissions(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    counts: Counter[tuple[int, str]] = Counter()
    last: dict[tuple[int, str], int] = {}
    for s in conn.execute(select(submissions).order_by(submissions.c.audit_seq)).mappings():
        where = f"submissions row {s['id']}"
        yield Derived(s["audit_seq"], "submission.create", submission_payload(dict(s), records.name(s["agent_id"])),
                      where)
        if sha256_hex(s["predictions"]) != s["predictions_sha256"]:
            yield Break(s["audit_seq"], f"{where} column predictions does not hash to its predictions_sha256")
        counts[(s["agent_id"], s["dataset"])] += 1
        last[(s["agent_id"], s["dataset"])] = s["audit_seq"]
    for u in conn.execute(select(usage)).mappings():
        key = (u["agent_id"], u["dataset"])
        if u["used"] != counts.pop(key, 0):
            yield Break(last.get(key, 0), f"usage row ({records.name(u['agent_id'])}, {u['dataset']}) column used "
                        f"is {u['used']} but the chain holds {counts.get(key, 0)} submissions")
    for (agent_id, dataset), n in counts.items():
        yield Break(last[(agent_id, dataset)], f"usage row ({records.name(agent_id)}, {dataset}) is missing (the "
                    f"chain holds {n} submissions)")


@register
def _fingerprints(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    """A submission's hard-prediction fingerprint (what the replay flag matches) must be its predictions'."""
    import numpy as np

    from aarlab.server._db import submission_fingerprints
    from aarlab.server._integrity import hard_fingerprint

    rows = conn.execute(select(submission_fingerprints, submissions.c.agent_id.label("owner"),
                               submissions.c.dataset.label("scored"), submissions.c.predictions,
                               submissions.c.audit_seq)
                        .join(submissions, submissions.c.id == submission_fingerprints.c.submission_id, isouter=True))
    unprinted = {s["id"]: s["audit_seq"] for s in conn.execute(select(submissions.c.id, submissions.c.audit_seq))
                 .mappings() if s["audit_seq"] in records.payloads}  # stored since fingerprints exist
    for f in rows.mappings():
        unprinted.pop(f["submission_id"], None)
        where = f"submission_fingerprints row {f['submission_id']}"
        if f["audit_seq"] is None:
            yield Break(0, f"{where} belongs to no stored submission")
        elif (f["agent_id"], f["dataset"]) != (f["owner"], f["scored"]) or len(f["predictions"]) % 8 or \
                f["hard_sha256"] != hard_fingerprint(np.frombuffer(f["predictions"], dtype="<f8")):
            yield Break(f["audit_seq"], f"{where} differs from the submission's agent, dataset or predictions")
    for sub_id, seq in unprinted.items():
        yield Break(seq, f"submission_fingerprints row {sub_id} is missing")


@register
def _ladder(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    """A Ladder climb (public feedback) must be its submission's: same agent and dataset, the level the receipt
    showed, and the exact public accuracy of its stored predictions."""
    import numpy as np

    from aarlab.server._db import public_ladder
    from aarlab.server._scoring import load_answer_keys, public_accuracy

    rows = conn.execute(select(public_ladder, submissions.c.agent_id.label("owner"),
                               submissions.c.dataset.label("scored"), submissions.c.public_transfer_acc,
                               submissions.c.predictions, submissions.c.audit_seq)
                        .join(submissions, submissions.c.id == public_ladder.c.submission_id, isouter=True)
                        ).mappings().all()
    keys = load_answer_keys(conn) if rows else {}
    for r in rows:
        where = f"public_ladder row {r['submission_id']}"
        key = keys.get(r["dataset"])
        if r["audit_seq"] is None or key is None:
            yield Break(0, f"{where} belongs to no stored submission")
            continue
        probs = np.frombuffer(r["predictions"], dtype="<f8") if len(r["predictions"]) % 8 == 0 else None
        exact = public_accuracy(key, probs) if probs is not None and probs.size == key.positive.size else None
        if (r["agent_id"], r["dataset"], r["level"]) != (r["owner"], r["scored"], r["public_transfer_acc"]) \
                or exact is None or abs(r["public_acc"] - exact) > 1e-12 \
                or not _ladder_level_fits(key, probs, exact, r["level"]):
            yield Break(r["audit_seq"], f"{where} differs from its submission (agent, dataset, the level its "
                        "receipt showed, or the exact public accuracy of its predictions)")


@register
def _ladder_replay(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    """Replays every public answer under the scoring settings recorded before it: each submission's shown score,
    which submissions climbed (a deleted or added ``public_ladder`` row), and each agent's information budget
    (``ladder_budget``: bits spent, the submission that froze it). Submissions scored before the chain recorded
    settings cannot be replayed; neither can the rest of their agent's answers on that dataset."""
    import numpy as np

    from aarlab.server._db import ladder_budget, public_ladder
    from aarlab.server._ladder import SETTINGS_ACTION, LadderBudget, LadderQuery, LadderRules, ladder_answer
    from aarlab.server._scoring import LadderState, load_answer_keys

    recorded = [(s, LadderRules.of(records.payloads[s])) for s in records.of(SETTINGS_ACTION)]
    for seq, _ in recorded:
        yield Derived(seq, SETTINGS_ACTION, records.payloads[seq], "the scoring settings it records")
    if not recorded:
        return
    keys = load_answer_keys(conn)
    climbs = {r["submission_id"]: r for r in conn.execute(select(public_ladder)).mappings()}
    stored = {(r.agent_id, r.dataset): (LadderBudget(r.bits, r.frozen_by)) for r in conn.execute(select(ladder_budget))}
    states: dict[tuple[int, str], LadderState] = {}
    spent: dict[tuple[int, str], LadderBudget] = {}
    last: dict[tuple[int, str], int] = {}
    skipped: set[tuple[int, str]] = set()
    for s in conn.execute(select(submissions).order_by(submissions.c.audit_seq)).mappings():
        pair, where = (s["agent_id"], s["dataset"]), f"submissions row {s['id']}"
        rules = next((r for seq, r in reversed(recorded) if seq < s["audit_seq"]), None)
        key = keys.get(s["dataset"])
        if rules is None or key is None or len(s["predictions"]) != 8 * key.n_test or pair in skipped:
            skipped.add(pair)  # before settings were recorded, or rows another rule reports
            continue
        probs = np.frombuffer(s["predictions"], dtype="<f8")
        answer = ladder_answer(key, probs, LadderQuery.of(key, probs, rules), rules, states.get(pair),
                               spent.get(pair, LadderBudget()), s["id"])
        last[pair] = s["audit_seq"]
        if (answer.transfer_acc, answer.pgr) != (s["public_transfer_acc"], s["public_pgr"]):
            yield Break(s["audit_seq"], f"{where}: replaying the Ladder under the recorded settings shows "
                        f"{answer.transfer_acc} / PGR {answer.pgr}, the row {s['public_transfer_acc']} / PGR "
                        f"{s['public_pgr']}")
        climbed = climbs.pop(s["id"], None)
        if (answer.climbed is None) != (climbed is None):
            yield Break(s["audit_seq"], f"public_ladder row {s['id']} " + (
                "is missing: replayed, this submission climbs" if climbed is None else
                "records a climb that the replay does not make"))
        if answer.climbed is not None:
            states[pair] = answer.climbed
        if answer.budget is not None:
            spent[pair] = answer.budget
    for pair, budget in spent.items():
        if pair in skipped:
            continue
        row, label = stored.pop(pair, None), f"ladder_budget row ({records.name(pair[0])}, {pair[1]})"
        if row is None:
            yield Break(last[pair], f"{label} is missing")
        elif abs(row.bits - budget.bits) > 1e-9 or row.frozen_by != budget.frozen_by:
            yield Break(last[pair], f"{label} shows {row.bits:.6f} bits spent, frozen by {row.frozen_by}; the "
                        f"replay {budget.bits:.6f}, frozen by {budget.frozen_by}")
    for pair in set(stored) - skipped:
        yield Break(0, f"ladder_budget row ({records.name(pair[0])}, {pair[1]}) belongs to no replayed submissions")


def _ladder_level_fits(key: Any, probs: Any, exact: float, level: float) -> bool:
    """A climb shows its exact accuracy rounded, or that plus its keyed perturbation: off in the draw's direction."""
    from aarlab.server._scoring import ladder_noise, round_score

    return level == round_score(exact) or (level - exact) * ladder_noise(key, probs) > 0


def _content(row: Any) -> dict[str, Any]:
    return {"title": row["title"], "tags": row["tags"], "body_sha256": sha256_hex(row["body"].encode())}


@register
def _posts(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    from aarlab.server._markdown import render_markdown

    versions: dict[int, dict[int, Any]] = defaultdict(dict)
    for pv in conn.execute(select(post_versions)).mappings():
        versions[pv["post_id"]][pv["version"]] = pv
    tags: dict[int, list[str]] = defaultdict(list)
    for t in conn.execute(select(post_tags.c.post_id, post_tags.c.tag)):
        tags[t.post_id].append(t.tag)
    replies: dict[int, int] = dict(conn.execute(select(posts.c.parent_id, func.count())
                                                .where(posts.c.parent_id.is_not(None))
                                                .group_by(posts.c.parent_id)).all())
    edits: dict[tuple[Any, Any], int] = {(records.payloads[s].get("post_id"), records.payloads[s].get("version")): s
                                         for s in records.of("post.edit")}
    latest: dict[Any, int] = {}  # post id -> seq of the last record that changed it
    for s in records.of("post.edit", "post.vote"):
        latest[records.payloads[s].get("post_id")] = s
    legacy_edits = any(a == "post.edit" and s not in records.payloads for s, a in records.actions.items())
    for p in conn.execute(select(posts)).mappings():
        pid, where = p["id"], f"posts row {p['id']}"
        mine = versions.get(pid, {})
        first = mine.get(1, p)
        created = {"agent": records.name(p["agent_id"]), "kind": p["kind"], **_content(first),
                   "parent_id": p["parent_id"], "created_at": p["created_at"]}
        created |= {k: p[k] for k in ("submission_id", "snapshot_id", "receipt", "verified_dataset",
                                      "verified_method", "verified_public_pgr", "verified_public_transfer_acc")}
        yield Derived(pid, "post.create", created, where if 1 not in mine else f"{where} and post_versions row "
                      f"({pid}, 1)")
        if not mine and p["edited_at"] is not None and not legacy_edits:
            yield Break(pid, f"{where} column edited_at is set but no post.edit record edited the post")
        if 1 in mine and mine[1]["created_at"] != p["created_at"]:
            yield Break(pid, f"post_versions row ({pid}, 1) column created_at differs from the post's created_at")
        for v in sorted(mine):
            if (pid, v) not in edits and not legacy_edits:
                yield Break(p["seq"], f"post_versions row ({pid}, {v}) has no post.edit record")
        yield from _post_state(p, where, sorted(tags.get(pid, [])), replies.get(pid, 0), latest.get(pid, pid),
                               records.payloads, records.actions, render_markdown)
    for (edited, version), seq in edits.items():
        yield from _edit(conn, versions.get(edited, {}), edited, version, seq)
    yield from _search_index(conn)


def _search_index(conn: Connection) -> Iterator[Break]:
    """SQLite's full-text index must hold each post as stored (else search shows or hides posts falsely)."""
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL indexes an expression over the posts themselves
    indexed = {r.rowid: (r.title, r.body, r.tags) for r in conn.execute(
        select(posts_fts.c.rowid, posts_fts.c.title, posts_fts.c.body, posts_fts.c.tags))}
    for p in conn.execute(select(posts.c.id, posts.c.seq, posts.c.title, posts.c.body, posts.c.tags)):
        if indexed.pop(p.id, None) != (p.title, p.body, p.tags):
            yield Break(p.seq, f"posts_fts row {p.id} (the search index) differs from posts row {p.id}")
    for rowid in indexed:
        yield Break(0, f"posts_fts row {rowid} (the search index) indexes no post")


def _edit(conn: Connection, mine: dict[int, Any], pid: int, version: int, seq: int) -> Iterator[Derived | Break]:
    """Edit ``version`` of post ``pid``: its content is the next version's, or the post's if it is the last edit."""
    source: Any = mine.get(version + 1)
    where = f"post_versions row ({pid}, {version + 1})"
    edited_at = None if source is None else source["created_at"]
    if source is None:
        source = conn.execute(select(posts).where(posts.c.id == pid)).mappings().first()
        if source is None:
            return  # reported as a record whose row is missing
        where, edited_at = f"posts row {pid}", source["edited_at"]
    yield Derived(seq, "post.edit", {"post_id": pid, **_content(source), "edited_at": edited_at,
                                     "version": version}, where)
    if version not in mine:
        yield Break(seq, f"post_versions row ({pid}, {version}) (the post before this edit) is missing")


def _post_state(p: Any, where: str, tags: list[str], replies: int, latest: int, payloads: dict[int, Any],
                actions: dict[int, str], render: Callable[[str], str]) -> Iterator[Break]:
    if sorted(p["tags"].split()) != tags:
        yield Break(p["seq"], f"post_tags rows of post {p['id']} differ from {where} column tags")
    if p["reply_count"] != replies:
        yield Break(p["seq"], f"{where} column reply_count is {p['reply_count']} but {replies} replies are stored")
    if p["score"] != p["up"] - p["down"]:
        yield Break(p["seq"], f"{where} column score is not up - down")
    if p["seq"] != latest and (p["seq"] < latest or p["seq"] in payloads or p["seq"] not in actions):
        yield Break(latest, f"{where} column seq is {p['seq']} but record {latest} changed the post last")
    if p["body_html"] != render(p["body"]):
        yield Break(p["seq"], f"{where} column body_html is not the rendering of its body")


@register
def _votes(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    replay: dict[tuple[Any, str], tuple[Any, int]] = {}  # (post, agent) -> (value, seq)
    for s in records.of("post.vote"):
        replay[(records.payloads[s].get("post_id"), records.actors[s])] = (records.payloads[s].get("value"), s)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    seen = set()
    for v in conn.execute(select(votes)).mappings():
        agent = records.name(v["agent_id"])
        where = f"votes row (post {v['post_id']}, agent {agent})"
        key = (v["post_id"], agent)
        seen.add(key)
        totals[v["post_id"]][0 if v["value"] > 0 else 1] += 1
        yield Derived(v["audit_seq"], "post.vote", {"post_id": v["post_id"], "value": v["value"]}, where)
        want = replay.get(key)
        if want is not None and want[1] != v["audit_seq"]:
            yield Break(want[1], f"{where} names record {v['audit_seq']} but record {want[1]} is the agent's last "
                        "vote on the post")
    for (pid, agent), (value, seq) in replay.items():
        if value and (pid, agent) not in seen:
            yield Break(seq, f"votes row (post {pid}, agent {agent}) is missing (its vote {value:+d} was deleted)")
    for p in conn.execute(select(posts.c.id, posts.c.up, posts.c.down)).mappings():
        up, down = totals.get(p["id"], [0, 0])
        if (p["up"], p["down"]) != (up, down):
            seq = max((s for (pid, _), (_, s) in replay.items() if pid == p["id"]), default=p["id"])
            yield Break(seq, f"posts row {p['id']} columns up/down are {p['up']}/{p['down']} but the votes say "
                        f"{up}/{down}")


@register
def _snapshots(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    stored = {r["id"]: r for r in conn.execute(select(snapshots)).mappings()}
    first: dict[str, Any] = {}
    for p in conn.execute(select(snapshot_pushes).order_by(snapshot_pushes.c.audit_seq)).mappings():
        snap = stored.get(p["snapshot_id"])
        first.setdefault(p["snapshot_id"], p)
        payload = {"snapshot_id": p["snapshot_id"], "agent": records.name(p["agent_id"]), "parent": p["parent"],
                   "size": snap["size"] if snap else None, "files": snap["files"] if snap else None,
                   "created_at": p["created_at"]}
        yield Derived(p["audit_seq"], "snapshot.push", payload, f"snapshot_pushes row {p['audit_seq']} "
                      f"(snapshot {p['snapshot_id'][:12]}) and its snapshots row")
    for sid, snap in stored.items():
        push = first.get(sid)
        if push is None:
            yield Break(0, f"snapshots row {sid[:12]} was never pushed (no snapshot_pushes row or record)")
        elif snap["created_at"] != push["created_at"]:
            yield Break(push["audit_seq"], f"snapshots row {sid[:12]} column created_at differs from its first push")


@register
def _control(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    from aarlab.server._control import control_breaks

    for r in conn.execute(select(control_log)).mappings():
        try:
            payload = json.loads(r["payload"])
        except ValueError:
            yield Break(r["audit_seq"], f"control_log row {r['audit_seq']} column payload is not JSON")
            continue
        yield Derived(r["audit_seq"], r["action"], payload, f"control_log row {r['audit_seq']}")
    for seq, reason in control_breaks(conn, records.hashes):
        yield Break(seq, reason)
    yield from _control_rows(conn, records)


def _control_rows(conn: Connection, records: Records) -> Iterator[Break]:
    """What control_breaks leaves out: each message's agent and author, each control row's time."""
    last: dict[Any, tuple[int, dict[str, Any]]] = {}  # agent name -> its last state or budget change
    for s in records.of("control.pause", "control.resume", "control.stop", "control.budget"):
        last[records.payloads[s].get("agent")] = (s, records.payloads[s])
    for c in conn.execute(select(agent_controls)).mappings():
        want = last.pop(records.name(c["agent_id"]), None)
        if want is not None and want[1].get("time") != c["updated_at"]:
            yield Break(c["audit_seq"], f"agent_controls row {records.name(c['agent_id'])} column updated_at differs "
                        "from its last control record")
    for agent, (seq, _) in last.items():
        yield Break(seq, f"agent_controls row {agent} is missing (its control records change its state or budget)")
    messages = set(records.of("control.message"))
    for m in conn.execute(select(agent_messages)).mappings():
        messages.discard(m["id"])
        payload = records.payloads.get(m["id"])
        if payload is not None and (payload.get("agent"), payload.get("created_by")) != \
                (records.name(m["agent_id"]), m["created_by"]):
            yield Break(m["id"], f"agent_messages row {m['id']} columns agent_id/created_by differ from its record")
    for seq in messages:
        yield Break(seq, f"agent_messages row {seq} is missing")
    for r in conn.execute(select(control_log.c.audit_seq, control_log.c.agent_id)).mappings():
        payload = records.payloads.get(r["audit_seq"])
        if payload is not None and payload.get("agent") != records.name(r["agent_id"]):
            yield Break(r["audit_seq"], f"control_log row {r['audit_seq']} column agent_id is not its record's agent")


@register
def _final(conn: Connection, records: Records) -> Iterator[Derived | Break]:
    from aarlab.server._leaderboard import finalize_payload

    seq = next((s for s, a in records.actions.items() if a == "campaign.finalize"), 0)
    when = conn.execute(select(meta.c.value).where(meta.c.key == "finalized_at")).scalar()
    rows = [dict(r) for r in conn.execute(select(final_results)).mappings()]
    if seq == 0:
        if when is not None or rows:
            yield Break(0, "the campaign is marked finalized (meta.finalized_at or final_results rows) but no "
                        "campaign.finalize record covers it")
        return
    yield Derived(seq, "campaign.finalize", finalize_payload(when or "", rows), "final_results and meta.finalized_at")


def _cover_promotions() -> None:
    """Promotions (``aarlab promote``): each row is its ``promotion.record`` payload; each request its
    ``promotion.request`` payload as queued (the queue state that moves on later is operational, not covered)."""
    from aarlab.server._db import promotion_requests, promotions

    register(RowRule(promotions, "promotion.record"))

    @register
    def _requests(conn: Connection, records: Records) -> Iterator[Derived | Break]:
        by_key = {(records.payloads[s].get("submission_id"), records.payloads[s].get("requested_at")): s
                  for s in records.of("promotion.request")}
        for r in conn.execute(select(promotion_requests)).mappings():
            seq = by_key.get((r["submission_id"], r["requested_at"]))
            if seq is None:
                if records.payloads:
                    yield Break(0, f"promotion_requests row {r['id']} has no promotion.request record")
                continue
            yield Derived(seq, "promotion.request", {"submission_id": r["submission_id"], "requested_by":
                          r["requested_by"], "requested_at": r["requested_at"], "state": "queued"},
                          f"promotion_requests row {r['id']}")


_cover_promotions()
