"""Benchmark: wall time per stage of one tiny-suite W2S experiment, cold and cached, and the torch-op share.

Usage: python benchmarks/w2s_tiny.py [--home DIR] [--dataset math] [--method vanilla] [--threads 1] [--rebuild]

Targets (2-core machine): full experiment <= 30 s cold (after the one-time suite build), <= 5 s with weak artifacts
and ceiling cached; suite build <= 10 min.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from aarlab.home import resolve_home
from aarlab.suites import build_suite, is_built, load_suite
from aarlab.w2s.cache import ArtifactCache
from aarlab.w2s.methods import resolve_method
from aarlab.w2s.metrics import correctness, pgr
from aarlab.w2s.pipeline import Experiment


def timed_experiment(suite, dataset: str, method: str, cache: ArtifactCache, seed: int = 0) -> dict[str, float]:
    """Seconds per stage for one seed."""
    times: dict[str, float] = {}
    t = time.perf_counter()
    experiment = Experiment(suite, dataset, cache)
    experiment.load_models()
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    weak = experiment.weak_teacher(seed)
    times["weak"] = time.perf_counter() - t
    t = time.perf_counter()
    ceiling = experiment.strong_ceiling(seed)
    times["ceiling"] = time.perf_counter() - t
    t = time.perf_counter()
    transfer = experiment.run_method(resolve_method(method), weak, seed)
    times["method"] = time.perf_counter() - t
    t = time.perf_counter()
    test = experiment.dataset.split("test")
    accs = [correctness(p, test).mean() for p in (weak["test_probs"], ceiling["test_probs"], transfer)]
    pgr(*accs)
    times["eval"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    return times


def torch_op_fraction(suite, dataset: str, method: str) -> tuple[float, float]:
    """(share of wall time inside torch ops, profiled wall seconds) for one cold experiment."""
    from torch.profiler import ProfilerActivity, profile

    with tempfile.TemporaryDirectory() as tmp, profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        timed_experiment(suite, dataset, method, ArtifactCache(Path(tmp)))
        wall = time.perf_counter() - start
    # Self time of every op sums to time spent inside torch ops (no double counting of nested ops).
    op_seconds = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e6
    return op_seconds / wall, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--dataset", default="math")
    parser.add_argument("--method", default="vanilla")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="time a cold suite build (about 4 minutes)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    suite = load_suite("tiny", resolve_home(args.home))
    if args.rebuild or not is_built(suite):
        start = time.perf_counter()
        build_suite(suite, lambda *_: None, force=args.rebuild)
        print(f"suite build: {time.perf_counter() - start:.1f} s (measured now)")
    else:
        report = json.loads((suite.root / "build_report.json").read_text())
        print(f"suite build: {report['timings_s']['total']:.1f} s (recorded at build time; --rebuild to re-measure)")
    with tempfile.TemporaryDirectory() as tmp:
        cache = ArtifactCache(Path(tmp))
        cold = timed_experiment(suite, args.dataset, args.method, cache)
        cached = timed_experiment(suite, args.dataset, args.method, cache)
    print(f"\n{args.dataset}/{args.method}, {args.threads} thread(s)")
    print(f"{'stage':<8} {'cold s':>8} {'cached s':>9}")
    for stage in cold:
        print(f"{stage:<8} {cold[stage]:>8.2f} {cached[stage]:>9.2f}")
    print(f"cold / cached = {cold['total'] / cached['total']:.1f}x   (targets: cold <= 30 s, cached <= 5 s)")
    if not args.no_profile:
        share, wall = torch_op_fraction(suite, args.dataset, args.method)
        print(f"time inside torch ops: {share:.0%} of {wall:.1f} s (profiled cold run)")


if __name__ == "__main__":
    main()
