"""What a promotion by clean re-run costs, next to a plain ``aarlab w2s run`` of the same method.

    python benchmarks/promote.py [--home ~/.cache/aarlab-test] [--suite tiny] [--dataset math] [--seeds 3]
                                 [--lane probe|finetune] [--no-held-out]

The built suite is copied (data, models, baselines, shortcut references; no artifact cache, no build secret) into a
temporary home, so both runs start from the same cold cache and nothing is written to the home given.

1. A plain ``w2s run`` of a vanilla-like method file (seeds 0..N-1, the lane given), in its own process: wall
   seconds. It calls ``Experiment.run`` as ``aarlab w2s run`` does (the CLI would rebuild a suite whose builder
   changed since it was built; a benchmark must never do that).
2. A scoring state on the same built suite, one agent that submits that run's first-seed predictions, pushes the
   method as a snapshot and posts the result citing both (a real server on loopback).
3. ``aarlab promote SUBMISSION --state ... --json`` (fresh seeds, fresh sandboxes): wall seconds and its numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

METHOD = '''
from aarlab.w2s.methods import method


@method("honest", "vanilla-like: train the strong model on the weak teacher's hard labels")
def run(ctx):
    student = ctx.strong.train(ctx.unlabeled, ctx.weak_targets(hard=True), seed=ctx.seed)
    return student.predict(ctx.test)
'''


PLAIN_RUN = """
import sys, torch
from pathlib import Path
from aarlab.suites import load_suite
from aarlab.w2s.data import write_jsonl
from aarlab.w2s.methods import resolve_method
from aarlab.w2s.pipeline import Experiment, default_cache
suite_name, home, dataset, method, seeds, lane, out = sys.argv[1:]
torch.set_num_threads(1)
suite = load_suite(suite_name, Path(home))
experiment = Experiment(suite, dataset, default_cache(suite), lane=lane)
result = experiment.run(resolve_method(method), list(range(int(seeds))))
write_jsonl(out, [{"id": i, "p": p} for i, p in result.test_predictions[0].items()])
print(result.pgr)
"""


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of a command and its result (stderr passed through)."""
    started = time.monotonic()
    done = subprocess.run(argv, text=True, stdout=subprocess.PIPE, check=False)
    return time.monotonic() - started, done


def main() -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path.home() / ".cache" / "aarlab-test")
    parser.add_argument("--suite", default="tiny")
    parser.add_argument("--dataset", default="math")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lane", default=None, help="Default: the suite's lane")
    parser.add_argument("--no-held-out", action="store_true")
    args = parser.parse_args()

    from aarlab.client import ForumClient, read_predictions
    from aarlab.server import ServerSettings, add_agent, init_state, listen

    root = Path(tempfile.mkdtemp(prefix="aarbp-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    os.environ.update(env)
    try:
        workspace = root / "ws"
        (workspace / "methods").mkdir(parents=True)
        method_file = workspace / "methods" / "honest.py"
        method_file.write_text(METHOD)
        preds = root / "preds.jsonl"
        home = root / "home"
        source = args.home / "suites" / args.suite
        target = home / "suites" / args.suite
        target.mkdir(parents=True)
        for entry in source.iterdir():  # data, models, baselines, shortcut references; not the cache, lock, secret
            if entry.name in ("cache", "build_secret") or entry.name.startswith("."):
                continue
            (shutil.copytree if entry.is_dir() else shutil.copy)(entry, target / entry.name)
        from aarlab.suites import load_suite

        lane = args.lane or load_suite(args.suite, home).spec.lane
        plain_s, plain = timed([sys.executable, "-c", PLAIN_RUN, args.suite, str(home), args.dataset,
                                str(method_file), str(args.seeds), lane, str(preds)])
        if plain.returncode != 0:
            print(f"w2s run failed (exit {plain.returncode})", file=sys.stderr)
            return 1
        state = root / "state"
        init_state(state, suite=args.suite, home=home).db.dispose()
        token = add_agent(state, "bench")
        listener = listen(state, ServerSettings(rate_per_s=1000, rate_burst=1000), port=0, uds=root / "s.sock")
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        time.sleep(1.0)
        with ForumClient(listener.urls[0], token) as client:
            records, _ = read_predictions(preds)
            receipt = client.submit(args.dataset, records, method="honest")
            snapshot = client.push_directory(workspace)
            client.post("result", "honest", "benchmark", receipt=receipt.receipt, snapshot=snapshot.id)
        listener.server.should_exit = True
        thread.join(timeout=30)
        promote_argv = [sys.executable, "-m", "aarlab", "promote", receipt.id, "--state", str(state), "--home",
                        str(home), "--seeds", str(args.seeds), "--lane", lane, "--json"]
        if args.no_held_out:
            promote_argv.append("--no-held-out")
        promote_s, promoted = timed(promote_argv)
        if promoted.returncode not in (0, 1):
            print(f"promote failed (exit {promoted.returncode})", file=sys.stderr)
            return 1
        result = json.loads(promoted.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    runs = 3 + (0 if args.no_held_out else len(result["held_out"]))
    print(f"\n{args.suite}/{args.dataset}, lane {result['lane']}, {args.seeds} seeds, {os.cpu_count()} CPUs "
          f"(load average at the end {os.getloadavg()[0]:.1f})")
    print("| what | wall s |\n|---|---|")
    print(f"| `aarlab w2s run` (method, {args.seeds} seeds) | {plain_s:.1f} |")
    print(f"| `aarlab promote` ({runs} sandbox runs x {args.seeds} seeds + teachers/ceilings of fresh seeds) | "
          f"{promote_s:.1f} |")
    print(f"| ratio | {promote_s / plain_s:.1f}x |")
    paired, ablation = result.get("paired") or {}, result.get("ablation") or {}
    print(f"\nstatus {result['status']}; seeds {result['seeds']}; private PGR {result['private_pgr']}; "
          f"vanilla {result['vanilla_private_pgr']}; diff {paired.get('mean_diff')} CI {paired.get('ci')} "
          f"p {paired.get('p_value')}; zero-shot {ablation.get('zero_shot_acc')} acc {ablation.get('method_acc')} "
          f"shuffled {ablation.get('shuffled_acc')} kept {ablation.get('retained')}; held out "
          f"{ {k: v['pgr'] for k, v in result['held_out'].items()} } ratio {result['held_out_ratio']}; "
          f"flags {result['flags']}; reason {result['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
