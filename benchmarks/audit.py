"""Audit verify benchmark: how long ``audit verify`` takes over a chain of N records that cover forum rows.

The chain is written through the server's own state changes (agents, snapshot pushes, posts, replies, edits,
votes), many per transaction, into a temporary SQLite database; then ``verify_chain`` re-derives every record from
the rows, first alone and then against an exported head.

    python benchmarks/audit.py [--records 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from pathlib import Path

from aarlab.server import export_anchor, verify_chain
from aarlab.server._auth import Principal
from aarlab.server._db import Database, open_database
from aarlab.server._routes_forum import _create, _edit, _vote
from aarlab.server._routes_snapshots import _record
from aarlab.server._schemas_forum import PostCreate, PostEdit
from aarlab.server._state import create_agent_change
from aarlab.server._writer import Change, changing

AGENTS = 10


def _one_change(change: Change, rng: random.Random, callers: list[Principal], posts: list[tuple[int, int]],
                i: int) -> None:
    """One state change of a mix like a busy forum: pushes, posts, replies, edits and votes."""
    me = rng.choice(callers)
    kind = rng.random()
    if kind < 0.15 or not posts:
        sid = hashlib.sha256(f"snapshot {i}".encode()).hexdigest()
        _record(me, sid, None, 1000 + i, 3)(change)
    elif kind < 0.45:
        parent = rng.choice(posts)[0] if rng.random() < 0.4 else None
        request = PostCreate(kind="insight", title=f"finding {i}", body=f"Body of *post* {i}.\n\n- a\n- b",
                             tags=["bench", f"t{i % 7}"], parent_id=parent)
        root = None if parent is None else next(p for p, _ in posts if p == parent)
        post = _create(me, request, root, request.title or f"Re: {parent}", {})(change)
        posts.append((post.id, me.id))
    elif kind < 0.55:
        post_id, author = rng.choice(posts)
        owner = next(c for c in callers if c.id == author)
        _edit(owner, post_id, PostEdit(body=f"edited at {i}"))(change)
    else:
        post_id, author = rng.choice(posts)
        voter = rng.choice([c for c in callers if c.id != author])
        _vote(voter, post_id, rng.choice((1, -1, 0)))(change)


def fill(db: Database, records: int, seed: int = 0, per_transaction: int = 200) -> None:
    """Write about ``records`` audit records through the server's state changes."""
    rng = random.Random(seed)
    with changing(db) as change:
        for n in range(AGENTS):
            create_agent_change(f"agent{n}", f"token-{n}", None, actor="admin")(change)
    callers = [Principal(id=n + 1, name=f"agent{n}", is_admin=False, budget=None) for n in range(AGENTS)]
    posts: list[tuple[int, int]] = []
    i = AGENTS
    while i < records:
        with changing(db) as change:
            for _ in range(min(per_transaction, records - i)):
                _one_change(change, rng, callers, posts, i)
                i += 1


def main() -> None:
    """Fill a chain, then time verify alone and against an exported head."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'audit.db'}")
        start = time.perf_counter()
        fill(db, args.records)
        print(f"wrote {args.records} records in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        report = verify_chain(db)
        alone = time.perf_counter() - start
        assert report.ok, report.reason
        anchor = export_anchor(db)
        start = time.perf_counter()
        report = verify_chain(db, anchor)
        anchored = time.perf_counter() - start
        assert report.ok, report.reason
        print(f"verify over {report.records} records: {alone:.2f} s ({report.records / alone:,.0f} records/s); "
              f"with --anchor: {anchored:.2f} s; head file {len(anchor.model_dump_json()) / 1024:.0f} KiB")
        db.dispose()


if __name__ == "__main__":
    main()
