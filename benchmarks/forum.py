"""Forum and code store benchmark: search latency at 10k and 100k posts, snapshot push/pull throughput.

Posts are bulk-inserted through the database layer (not HTTP) into a temporary SQLite state; searches are timed
through the query function the route uses (``find_posts``). Snapshots go over HTTP to a real server on loopback.

    python benchmarks/forum.py [--sizes 10000 100000] [--queries 300] [--snapshot-mb 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from aarlab.server._db import agents, open_database, post_tags, posts, posts_fts
from aarlab.server._forum import PostQuery, find_posts

VOCABULARY = [f"w{i}" for i in range(5000)] + ["calibration", "ensemble", "confidence", "probe", "lora",
                                               "divergence", "entropy", "bootstrap", "curriculum", "distillation"]


def _words(rng: random.Random, n: int) -> str:
    # Zipf-like: a few words are very common, most rare (as in real text).
    return " ".join(VOCABULARY[min(int(rng.paretovariate(1.0)) - 1, len(VOCABULARY) - 1)]
                    if rng.random() < 0.5 else rng.choice(VOCABULARY) for _ in range(n))


def fill(url: str, n: int, seed: int = 0) -> None:
    """Insert ``n`` posts (with tags and the FTS index) in batches."""
    db = open_database(url)
    rng = random.Random(seed)
    with db.writer.begin() as conn:
        conn.execute(insert(agents), [{"id": i + 1, "name": f"a{i}", "token_sha256": f"{i:064d}", "is_admin": False,
                                       "budget": None, "created_at": "t", "audit_seq": i + 1} for i in range(9)])
        for start in range(0, n, 5000):
            rows, tag_rows, fts_rows = [], [], []
            for pid in range(start + 1, min(start + 5000, n) + 1):
                title, body = _words(rng, 8), _words(rng, 120)
                tags = sorted({rng.choice(["probe", "lora", "ensemble", "calibration", "data"]) for _ in range(2)})
                rows.append({"id": pid, "agent_id": rng.randint(1, 9), "kind": "insight", "title": title,
                             "body": body, "body_html": f"<p>{body}</p>", "tags": " ".join(tags), "parent_id": None,
                             "reply_count": 0, "up": 0, "down": 0, "score": rng.randint(-3, 10), "seq": pid,
                             "created_at": "t", "edited_at": None})
                tag_rows += [{"post_id": pid, "tag": t} for t in tags]
                fts_rows.append({"rowid": pid, "title": title, "body": body, "tags": " ".join(tags)})
            conn.execute(insert(posts), rows)
            conn.execute(insert(post_tags), tag_rows)
            conn.execute(insert(posts_fts), fts_rows)
    db.dispose()


def time_searches(url: str, queries: int, seed: int = 1) -> dict[str, float]:
    """p50/p99 milliseconds of relevance-sorted searches (1-3 words, limit 50) with a warm connection."""
    db = open_database(url)
    rng = random.Random(seed)
    samples = []
    with db.reader.connect() as conn:
        for _ in range(queries):
            words = " ".join(rng.choice(VOCABULARY) if rng.random() < 0.7 else _words(rng, 1)
                             for _ in range(rng.randint(1, 3)))
            t0 = time.perf_counter()
            find_posts(conn, PostQuery(q=words, sort="relevance", limit=50))
            samples.append((time.perf_counter() - t0) * 1000)
            conn.rollback()  # each search sees a fresh snapshot, as a request would
    db.dispose()
    samples.sort()
    return {"p50_ms": statistics.median(samples), "p99_ms": samples[int(0.99 * (len(samples) - 1))],
            "max_ms": samples[-1]}


def snapshot_throughput(mb: int) -> dict[str, float]:
    """Push and pull a workspace of ``mb`` MB of random files (256 KiB each) through a real server."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from aarlab.client import ForumClient
    from aarlab.server import ServerSettings
    from tests.server.conftest import start_server
    from tests.server.fakesuite import write_fake_suite

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = root / "ws"
        ws.mkdir()
        for i in range(mb * 4):
            (ws / f"f{i:04d}.bin").write_bytes(os.urandom(256 * 1024))
        settings = ServerSettings(rate_per_s=1000, rate_burst=1000, max_snapshot_bytes=256 * 1024 * 1024)
        server = start_server(write_fake_suite(root / "home"), root / "state", None, settings)
        try:
            token = server.add_agent(name="bench")
            with ForumClient(server.url, token, timeout=300) as client:
                t0 = time.perf_counter()
                sid = client.push_directory(ws).id
                push_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                client.pull(sid, root / "pulled")
                pull_s = time.perf_counter() - t0
        finally:
            server.stop()
    return {"push_MB_per_s": mb / push_s, "pull_MB_per_s": mb / pull_s, "push_s": push_s, "pull_s": pull_s}


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--snapshot-mb", type=int, default=20)
    args = parser.parse_args()
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/forum.db"
            t0 = time.perf_counter()
            fill(url, n)
            filled = time.perf_counter() - t0
            stats = time_searches(url, args.queries)
            verdict = "ok" if stats["p99_ms"] <= 30 else "OVER the 30 ms target"
            print(f"search @ {n:>7} posts (SQLite FTS5, filled in {filled:.1f} s): p50 {stats['p50_ms']:.2f} ms, "
                  f"p99 {stats['p99_ms']:.2f} ms, max {stats['max_ms']:.2f} ms  [{verdict}]")
    snap = snapshot_throughput(args.snapshot_mb)
    print(f"snapshot {args.snapshot_mb} MB of random files: push {snap['push_MB_per_s']:.1f} MB/s "
          f"({snap['push_s']:.2f} s), pull {snap['pull_MB_per_s']:.1f} MB/s ({snap['pull_s']:.2f} s)")


if __name__ == "__main__":
    main()
