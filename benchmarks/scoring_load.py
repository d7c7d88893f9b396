"""Load and crash benchmark of the scoring service: N concurrent clients over loopback submit full prediction files.

    python benchmarks/scoring_load.py [--clients 1,8,32] [--duration 5] [--n-test 2000] [--db URL] [--json FILE]

Starts ``aarlab server start`` in its own process on a fake suite (``--n-test`` examples per test set), then for
each client count runs that many keep-alive HTTP clients (threads, stdlib ``http.client``, pre-built bodies so
the load generator stays cheap) for ``--duration`` seconds and reports evaluations/s and p50/p99 latency.
Then the crash test: SIGKILL the server under load, restart it, check that every acknowledged submission is
stored with its receipt and that the audit chain verifies. Targets (2 cores): >= 500 evaluations/s and
p99 <= 50 ms at 32 clients. Everything stays on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aarlab.client import ScoringClient  # noqa: E402
from aarlab.server import add_agent, init_state, open_state, read_admin_token, verify_chain  # noqa: E402
from tests.server.fakesuite import SUITE, fake_test_ids, write_fake_suite  # noqa: E402

CLI = [sys.executable, "-c", "from aarlab.cli import main; main()"]


@dataclass
class Run:
    """What one load level measured."""

    clients: int
    seconds: float
    ok: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    acked: dict[str, str] = field(default_factory=dict)
    server_cpu_s: float = float("nan")
    client_cpu_s: float = float("nan")

    def summary(self) -> dict[str, float]:
        """Throughput and latency percentiles."""
        lat = sorted(self.latencies_ms) or [float("nan")]
        return {"clients": self.clients, "evaluations_per_s": round(self.ok / self.seconds, 1),
                "p50_ms": round(statistics.median(lat), 2),
                "p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 2),
                "evaluations": self.ok, "errors": self.errors,
                "server_cpu_ms_per_eval": round(1000 * self.server_cpu_s / max(self.ok, 1), 3),
                "client_cpu_ms_per_eval": round(1000 * self.client_cpu_s / max(self.ok, 1), 3)}


def _cpu_seconds(group: int) -> float:
    """User + system CPU time of a process group (Linux /proc): the cost per evaluation, independent of load."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(state: Path, home: Path, port: int, db: str | None, workers: int = 1) -> subprocess.Popen[bytes]:
    config = state.parent / "bench.toml"
    config.write_text("default_budget = 10000000\nrate_per_s = 1000000\nrate_burst = 1000000\n")
    args = [*CLI, "server", "start", "--init", "--state", str(state), "--suite", SUITE, "--home", str(home), "--port",
            str(port), "--config", str(config), "--workers", str(workers)] + (["--db", db] if db else [])
    # its own process group, so the crash test's SIGKILL reaches worker processes too
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if os.environ.get("AARLAB_BENCH_PIDFILE"):  # lets a profiler attach (py-spy record --pid ...)
        Path(os.environ["AARLAB_BENCH_PIDFILE"]).write_text(str(proc.pid))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/openapi.json")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start within 60 s")


def _bodies(ids: list[str], count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [json.dumps({"dataset": "math", "method": f"bench{k}",
                        "predictions": [{"id": i, "p": round(rng.random(), 4)} for i in ids]}).encode()
            for k in range(count)]


def _client(port: int, token: str, bodies: list[bytes], stop: threading.Event, run: Run, lock: threading.Lock,
            max_requests: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    n = 0
    while not stop.is_set() and n < max_requests:
        body = bodies[n % len(bodies)]
        n += 1
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/submissions", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except OSError:
            with lock:
                run.errors += 1
            return  # the server is gone (crash test) or the connection broke
        elapsed = (time.perf_counter() - start) * 1000
        with lock:
            if response.status == 201:
                receipt = json.loads(data)
                run.ok += 1
                run.latencies_ms.append(elapsed)
                run.acked[receipt["id"]] = receipt["receipt"]
            else:
                run.errors += 1


def load(port: int, tokens: list[str], bodies: list[bytes], clients: int, seconds: float,
         kill: subprocess.Popen[bytes] | None = None, server_pid: int | None = None) -> Run:
    """Run ``clients`` concurrent clients for ``seconds`` (or SIGKILL ``kill`` halfway and wait for them)."""
    run, stop, lock = Run(clients, seconds), threading.Event(), threading.Lock()
    threads = [threading.Thread(target=_client, args=(port, tokens[c], bodies, stop, run, lock, 10**9))
               for c in range(clients)]
    server_cpu = _cpu_seconds(server_pid) if server_pid else float("nan")
    client_cpu = sum(os.times()[:2])
    started = time.perf_counter()
    for t in threads:
        t.start()
    if kill is not None:
        time.sleep(seconds / 2)
        os.killpg(kill.pid, signal.SIGKILL)
        kill.wait()
    else:
        time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    run.seconds = time.perf_counter() - started
    run.client_cpu_s = sum(os.times()[:2]) - client_cpu
    if server_pid and kill is None:
        run.server_cpu_s = _cpu_seconds(server_pid) - server_cpu
    return run


def crash_test(state: Path, home: Path, port: int, db: str | None, proc: subprocess.Popen[bytes],
               tokens: list[str], bodies: list[bytes], seconds: float, workers: int) -> dict[str, object]:
    """SIGKILL under load, restart, compare acknowledged receipts with what is stored, verify the chain."""
    run = load(port, tokens, bodies, 8, seconds, kill=proc)
    proc = _start(state, home, port, db, workers)
    try:
        with ScoringClient(f"http://127.0.0.1:{port}", read_admin_token(state), timeout=300) as admin:
            stored = {s.id: s.receipt for s in admin.submissions()}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    missing = [k for k, v in run.acked.items() if stored.get(k) != v]
    opened = open_state(state)
    try:
        report = verify_chain(opened.db)
    finally:
        opened.db.dispose()
    return {"acknowledged_before_kill": len(run.acked), "stored_after_restart": len(stored),
            "acknowledged_missing": len(missing), "audit_records": report.records, "audit_ok": report.ok,
            "passed": not missing and report.ok}


def main() -> None:
    """Parse arguments, run the load levels and the crash test, print a table (and optionally JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,32", help="comma-separated client counts")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load level")
    parser.add_argument("--n-test", type=int, default=2000, help="test examples per dataset")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of an empty database (default: SQLite)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--no-crash", action="store_true", help="skip the crash test")
    parser.add_argument("--workers", type=int, default=1, help="server processes (aarlab server start --workers)")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="aarbench") as tmp:
        home, state = write_fake_suite(Path(tmp) / "home", args.n_test), Path(tmp) / "state"
        init_state(state, suite=SUITE, home=home, db_url=args.db).db.dispose()
        tokens = [add_agent(state, f"bench{i}") for i in range(max(levels + [8]))]
        bodies = _bodies(fake_test_ids(home, "math"), 8, seed=0)
        port = _free_port()
        proc = _start(state, home, port, args.db, args.workers)
        load(port, tokens, bodies, 4, 1.0)  # warm-up: connections, caches
        results = []
        for clients in levels:
            results.append(load(port, tokens, bodies, clients, args.duration, server_pid=proc.pid).summary())
            print(json.dumps(results[-1]), flush=True)
        crash = None if args.no_crash else crash_test(state, home, port, args.db, proc, tokens, bodies, 4.0,
                                                       args.workers)
        if crash is None:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"\nscoring load, {args.n_test}-example test set, {os.cpu_count()} cores, {args.workers} worker(s), "
          f"{'PostgreSQL' if args.db else 'SQLite (WAL, synchronous=FULL)'}")
    print(f"{'clients':>8} {'eval/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'server CPU ms/eval':>19}")
    for r in results:
        print(f"{r['clients']:>8} {r['evaluations_per_s']:>9} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>7} "
              f"{r['server_cpu_ms_per_eval']:>19}")
    if crash is not None:
        print(f"crash test: {json.dumps(crash)}")
    if args.json:
        args.json.write_text(json.dumps({"levels": results, "crash": crash}, indent=2))
    if crash is not None and not crash["passed"]:
        raise SystemExit("crash test FAILED")


if __name__ == "__main__":
    main()
