"""Benchmark: N tiny-suite experiments started together, with the thread default vs torch's old one-per-core.

Usage: python benchmarks/threads.py [--home DIR] [--concurrency 1,2,4] [--dataset chat] [--method soft] [--seed 0]
                                   [--timeout 300]

Each batch starts N ``aarlab w2s run --seeds 1`` processes at once (same seed: same work, teacher and ceiling read
from the cache) and times each. ``new`` leaves the thread count to aarlab (``$AARLAB_THREADS`` unset: the free
cores, see aarlab/_threads.py); ``old`` passes ``--threads os.cpu_count()``, what torch used before. The suite is
copied from ``--home`` (default ``$AARLAB_TEST_HOME`` or ~/.cache/aarlab-test, where the tests build it) into a
temporary home, so that home is only read. Batches alternate between the modes so both see the same background load.

Target (2 cores): with the new default, N runs together take at most N x the wall time of one alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aarlab._threads import LIBRARY_ENV, THREADS_ENV, busy_cores, usable_cores


@dataclass
class Run:
    wall_s: float
    cpu_s: float  # user + system: well above the wall time means threads spinning, not working
    ok: bool


def batch(n: int, argv: list[str], env: dict[str, str], timeout_s: float, logs: Path) -> list[Run]:
    """Start ``n`` copies of ``argv`` at once; wall and CPU seconds of each (killed after ``timeout_s``)."""
    start = time.perf_counter()
    procs = {}
    for i in range(n):
        with open(logs / f"run{i}.log", "wb") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        procs[p.pid] = p
    runs: list[Run] = []
    while procs:
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid == 0:
            if time.perf_counter() - start > timeout_s:
                for p in procs.values():
                    p.kill()
            time.sleep(0.05)
            continue
        p = procs.pop(pid)
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by subprocess
        runs.append(Run(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, p.returncode == 0))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_home = Path(os.environ.get("AARLAB_TEST_HOME", Path.home() / ".cache" / "aarlab-test"))
    parser.add_argument("--home", type=Path, default=default_home, help="Home holding the built tiny suite")
    parser.add_argument("--concurrency", default="1,2,4", help="Comma-separated N: experiments started together")
    parser.add_argument("--dataset", default="chat")
    parser.add_argument("--method", default="soft")
    parser.add_argument("--seed", type=int, default=0, help="Seed of every run (a baseline seed: cached)")
    parser.add_argument("--timeout", type=float, default=300.0, help="Seconds after which a batch is killed")
    args = parser.parse_args()
    source = args.home / "suites" / "tiny"
    if not (source / "baselines.json").is_file():
        sys.exit(f"no built tiny suite under {args.home}; build it with `aarlab suites build tiny --home {args.home}`")
    counts = [int(n) for n in args.concurrency.split(",")]
    aarlab = str(Path(sys.executable).parent / "aarlab")
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(source, home / "suites" / "tiny", ignore=shutil.ignore_patterns(".build.lock"))
        argv = [aarlab, "w2s", "run", "--suite", "tiny", "--dataset", args.dataset, "--method", args.method,
                "--seeds", "1", "--first-seed", str(args.seed), "--home", str(home)]
        env = {k: v for k, v in os.environ.items() if k not in (THREADS_ENV, *LIBRARY_ENV)}
        modes = {"new": argv, "old": [*argv, "--threads", str(os.cpu_count() or 1)]}
        print(f"{args.dataset} {args.method}, seed {args.seed}; {os.cpu_count()} CPUs, {usable_cores()} usable, "
              f"{busy_cores()} busy with other work at the start (1-min load {os.getloadavg()[0]:.1f})")
        batch(1, [*argv, "--threads", "1"], env, args.timeout, Path(tmp))  # warm-up: caches, page cache
        alone: dict[str, float] = {}
        print(f"{'mode':<5} {'N':>2}  {'wall per run (s)':<32} {'mean':>6} {'cpu/run':>8} {'vs alone':>8}")
        for n in counts:
            for mode, command in modes.items():
                runs = batch(n, command, env, args.timeout, Path(tmp))
                mean = sum(r.wall_s for r in runs) / len(runs)
                alone.setdefault(mode, mean)  # the first (smallest) N is the baseline: list 1 first
                walls = " ".join(f"{r.wall_s:.1f}" + ("" if r.ok else "!") for r in runs)  # in finishing order
                cpu = sum(r.cpu_s for r in runs) / len(runs)
                ratio = f"{mean / alone[mode]:7.2f}x" if all(r.ok for r in runs) else "     n/a"
                print(f"{mode:<5} {n:>2}  {walls:<32} {mean:6.1f} {cpu:8.1f} {ratio}", flush=True)
        print("'!': failed or killed at --timeout (see the run logs); cpu/run: user + system seconds of one run")


if __name__ == "__main__":
    main()
