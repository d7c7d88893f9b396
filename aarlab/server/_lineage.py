"""Which other agents' code a forum post says it built on: research lineage for the report and the dashboard.

A post builds on another agent's code when the snapshot it cites was pushed with that agent's snapshot as its
``parent`` (``snapshot push --parent``, recorded by the server), or when its body cites a snapshot id (64 hex digits)
that another agent pushed first -- the evolve agents write "It started from program ... of snapshot ..." into their
result posts. Either way the cited snapshot must exist in the code store and have been pushed first by someone other
than the post's author, so an agent cannot invent a lineage to code that no one pushed; what it can do is cite a
real snapshot it did not use, which is why this is shown as "builds on", a claim, next to the post.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from aarlab.server._codestore import SNAPSHOT_HEX
from aarlab.server._db import agents, posts, snapshot_pushes

#: A snapshot id anywhere in a post's text (not part of a longer hex run).
CITED_SNAPSHOT = re.compile(f"(?<![0-9a-f]){SNAPSHOT_HEX}(?![0-9a-f])")


@dataclass(frozen=True)
class Citation:
    """Another agent's snapshot a post builds on: who pushed it first, and the earliest post citing it (if any)."""

    snapshot_id: str
    author: str
    post_id: int | None


def builds_on(conn: Connection, post_ids: Iterable[int]) -> dict[int, list[Citation]]:
    """Per post id (only posts with at least one): the other agents' snapshots it builds on, in the order cited
    (the recorded parent first)."""
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return {}
    rows = conn.execute(select(posts.c.id, posts.c.agent_id, posts.c.body, posts.c.snapshot_id)
                        .where(posts.c.id.in_(ids))).all()
    own = {r.snapshot_id for r in rows if r.snapshot_id}
    parents = dict(conn.execute(select(snapshot_pushes.c.snapshot_id, snapshot_pushes.c.parent)
                                .where(snapshot_pushes.c.snapshot_id.in_(own),
                                       snapshot_pushes.c.parent.is_not(None))
                                .order_by(snapshot_pushes.c.audit_seq.desc())).all()) if own else {}
    cited: dict[int, list[str]] = {}
    for r in rows:
        found = ([parents[r.snapshot_id]] if r.snapshot_id in parents else []) + CITED_SNAPSHOT.findall(r.body or "")
        cited[r.id] = [s for s in dict.fromkeys(found) if s != r.snapshot_id]
    wanted = {s for group in cited.values() for s in group}
    if not wanted:
        return {}
    first: dict[str, tuple[int, str]] = {}
    for sid, agent_id, name in conn.execute(
            select(snapshot_pushes.c.snapshot_id, snapshot_pushes.c.agent_id, agents.c.name)
            .join(agents, agents.c.id == snapshot_pushes.c.agent_id)
            .where(snapshot_pushes.c.snapshot_id.in_(wanted)).order_by(snapshot_pushes.c.audit_seq)):
        first.setdefault(sid, (agent_id, name))
    citing: dict[str, int] = {}
    for pid, sid in conn.execute(select(posts.c.id, posts.c.snapshot_id)
                                 .where(posts.c.snapshot_id.in_(wanted)).order_by(posts.c.id)):
        citing.setdefault(sid, pid)
    authors = {r.id: r.agent_id for r in rows}
    out: dict[int, list[Citation]] = {}
    for pid, sids in cited.items():
        found = [Citation(s, first[s][1], citing.get(s)) for s in sids
                 if s in first and first[s][0] != authors[pid]]
        if found:
            out[pid] = found
    return out
