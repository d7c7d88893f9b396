"""The same search campaign on one machine and on a three-node Ray cluster: experiments completed and the
scheduling overhead per experiment.

    python benchmarks/cluster.py [--home ~/.cache/aarlab-test] [--agents 4] [--minutes 5] [--skip-local]
                                 [--fanout-seeds 2]

Both runs: ``campaign run --suite tiny --agents N --minutes M`` with all agents at once. The cluster run starts a
real cluster on loopback (``ray start --head`` plus two workers, as tests/cluster does), keeps the shared state on a
real S3-compatible server (moto) and places one agent per ``agent_slot``. From each agent's transcript:

- *experiments*: ``w2s_run`` calls that finished, and their mean duration;
- *overhead per experiment*: the agent's active wall time (its first tool call to its last result) minus the time
  inside tool calls, divided by its experiments: what placement, forwarding, checkpoints and the agent's own loop
  add between experiments; reported in seconds and as a share of an experiment's time;
- *start latency*: campaign start to the agent's first tool call (placement, restore from storage, start-up);
- *fan-out*: then N seeds of one experiment as Ray tasks on the same cluster: wall time against the slowest seed's
  time in its sandbox (the difference is the dispatch overhead: restore on first use, workspace copy, task start).

On one 2-core machine both runs share the same two cores, so experiment durations are comparable; on a real
cluster each node brings its own cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.raycluster import start_cluster  # noqa: E402
from tests.cluster.s3 import BUCKET, start_s3  # noqa: E402


def _campaign(state: Path, home: Path, agents: int, minutes: float, extra: list[str], env: dict[str, str]) -> float:
    argv = [sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--agents", str(agents),
            "--concurrency", str(agents), "--minutes", str(minutes), "--budget", "200", "--trial-timeout", "120",
            "--state", str(state), "--home", str(home), "--quiet", *extra]
    started = time.time()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=minutes * 60 + 900)
    if result.returncode != 0:
        raise SystemExit(f"campaign failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return started


def _measure(state: Path, started: float) -> dict[str, Any]:
    experiments, durations, overheads, starts, moves = 0, [], [], [], 0
    info = json.loads((state / "campaign.json").read_text())
    for agent in info["agents"]:
        moves += agent.get("moves", 0)
        path = state / "agents" / agent["name"] / "transcript.jsonl"
        events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
        calls = [e for e in events if e.get("type") == "tool_call"]
        results = [e for e in events if e.get("type") == "tool_result"]
        runs = [e for e in results if e.get("name") == "w2s_run" and not e.get("is_error")]
        if not calls or not runs:
            continue
        experiments += len(runs)
        durations += [float(e["duration_s"]) for e in runs]
        active = results[-1]["t"] - calls[0]["t"]
        in_tools = sum(float(e.get("duration_s", 0.0)) for e in results)
        overheads.append(max(0.0, active - in_tools) / len(runs))
        starts.append(calls[0]["t"] - started)
    mean_run = statistics.mean(durations) if durations else float("nan")
    overhead = statistics.mean(overheads) if overheads else float("nan")
    return {"experiments": experiments, "mean_experiment_s": mean_run, "overhead_per_experiment_s": overhead,
            "overhead_share": overhead / mean_run if durations else float("nan"),
            "mean_start_latency_s": statistics.mean(starts) if starts else float("nan"), "moves": moves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path.home() / ".cache" / "aarlab-test")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--skip-local", action="store_true", help="Only the cluster run")
    parser.add_argument("--fanout-seeds", type=int, default=2, help="After the cluster run, fan this many seeds of "
                        "one experiment out as Ray tasks (0: skip)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="abench-"))
    rows: dict[str, dict[str, Any]] = {}
    fanout: dict[str, Any] | None = None
    try:
        env = {**os.environ, "COLUMNS": "200"}
        if not args.skip_local:
            print(f"local: {args.agents} agents, {args.minutes} min ...", file=sys.stderr, flush=True)
            started = _campaign(root / "local", args.home, args.agents, args.minutes, [], env)
            rows["local"] = _measure(root / "local", started)
        s3 = start_s3(root / "moto.log")
        cluster = start_cluster(root / "ray", {"node_a": (2, {"agent_slot": args.agents, "node_a": 1}),
                                               "node_b": (2, {"agent_slot": args.agents, "node_b": 1})},
                                node_env=s3.env())
        try:
            print(f"cluster: 3 nodes, {args.agents} agents, {args.minutes} min ...", file=sys.stderr, flush=True)
            started = _campaign(root / "ray", args.home, args.agents, args.minutes,
                                ["--cluster", cluster.address, "--storage", f"s3://{BUCKET}/bench",
                                 "--agent-cpus", "0.5", "--agent-resource", "agent_slot=1"],
                                {**cluster.env(), **s3.env(), "COLUMNS": "200"})
            rows["ray 3 nodes"] = _measure(root / "ray", started)
            if args.fanout_seeds:
                fanout = _fanout(root, root / "ray", cluster.address, args.fanout_seeds,
                                 {**cluster.env(), **s3.env()})
        finally:
            cluster.stop()
            s3.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'run':<12} {'experiments':>11} {'mean exp s':>10} {'overhead/exp s':>14} {'overhead %':>10} "
          f"{'start s':>8}")
    for name, row in rows.items():
        print(f"{name:<12} {row['experiments']:>11} {row['mean_experiment_s']:>10.1f} "
              f"{row['overhead_per_experiment_s']:>14.2f} {100 * row['overhead_share']:>9.1f}% "
              f"{row['mean_start_latency_s']:>8.1f}")
    if "local" in rows and "ray 3 nodes" in rows:
        local, ray = rows["local"], rows["ray 3 nodes"]
        extra = ray["overhead_per_experiment_s"] - local["overhead_per_experiment_s"]
        start = (ray["mean_start_latency_s"] - local["mean_start_latency_s"]) / max(1, ray["experiments"] / args.agents)
        total = 100 * (extra + start) / ray["mean_experiment_s"]
        print(f"cluster / local experiments: {ray['experiments'] / max(1, local['experiments']):.2f}; scheduling "
              f"overhead the cluster adds per experiment: {extra:.2f} s between experiments "
              f"({100 * extra / ray['mean_experiment_s']:.1f}% of an experiment), {extra + start:.2f} s with its "
              f"slower start spread over an agent's experiments ({total:.1f}%)")
    if fanout is not None:
        print(f"fan-out: {fanout['seeds']} seeds as Ray tasks in {fanout['wall_s']:.1f} s wall (slowest seed "
              f"{fanout['slowest_s']:.1f} s in its sandbox; sandbox time in all {fanout['sum_s']:.1f} s); dispatch "
              f"overhead {fanout['overhead_s']:.2f} s = {100 * fanout['overhead_s'] / fanout['slowest_s']:.1f}% of "
              f"the slowest seed (restore from storage, workspace copy, task start); nodes: {fanout['nodes']}")


FANOUT = """
import json, sys, time
from pathlib import Path
from aarlab.cluster._fanout import ExperimentJob, FanoutSpec, pack_workspace
from aarlab.cluster._ray import RayFanout

args = json.loads(sys.argv[1])
Path(args["workspace"]).mkdir(parents=True, exist_ok=True)
archive, _ = pack_workspace(Path(args["workspace"]))
jobs = [ExperimentJob(agent="bench", dataset="math", method="vanilla", seed=s, out=f"predictions/s{s}.jsonl",
                      timeout_s=300, memory_mb=4096) for s in range(args["seeds"])]
started = time.perf_counter()
results = RayFanout(FanoutSpec(**args["spec"])).run(jobs, archive)
wall = time.perf_counter() - started
bad = [r.error or r.stderr[-500:] for r in results if not r.ok]
print(json.dumps({"wall_s": wall, "durations": [r.duration_s for r in results], "nodes": [r.node for r in results],
                  "bad": bad}))
"""


def _fanout(root: Path, state: Path, address: str, seeds: int, env: dict[str, str]) -> dict[str, Any]:
    """``seeds`` seeds of vanilla on math as Ray tasks from the cluster campaign's storage (first use on each node:
    its restore counts in the overhead)."""
    cluster = json.loads((state / "campaign.json").read_text())["cluster"]
    spec = {"address": address, "storage_url": cluster["storage"], "campaign_id": cluster["campaign_id"],
            "suite": "tiny", "request": {"CPU": 1.0}, "node_dir": str(root / "fanout-nodes")}
    print(f"fan-out: {seeds} seeds as Ray tasks ...", file=sys.stderr, flush=True)
    result = subprocess.run([sys.executable, "-c", FANOUT, json.dumps({"workspace": str(root / "fanout-ws"),
                                                                       "seeds": seeds, "spec": spec})],
                            capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"fan-out failed:\n{result.stderr[-3000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    if out["bad"]:
        raise SystemExit(f"fan-out seeds failed: {out['bad']}")
    slowest = max(out["durations"])
    return {"seeds": seeds, "wall_s": out["wall_s"], "slowest_s": slowest, "sum_s": sum(out["durations"]),
            "overhead_s": out["wall_s"] - slowest, "nodes": sorted(set(out["nodes"]))}


if __name__ == "__main__":
    main()
