"""The same search campaign on one machine and on a three-node Ray cluster: experiments completed and the
scheduling overhead per experiment.

    python benchmarks/cluster.py [--home ~/.cache/aarlab-test] [--agents 4] [--minutes 5] [--skip-local]

Both runs: ``campaign run --suite tiny --agents N --minutes M`` with all agents at once. The cluster run starts a
real cluster on loopback (``ray start --head`` plus two workers, as tests/cluster does), keeps the shared state on a
real S3-compatible server (moto) and places one agent per ``agent_slot``. From each agent's transcript:

- *experiments*: ``w2s_run`` calls that finished, and their mean duration;
- *overhead per experiment*: the agent's active wall time (its first tool call to its last result) minus the time
  inside tool calls, divided by its experiments: what placement, forwarding, checkpoints and the agent's own loop
  add between experiments; reported in seconds and as a share of an experiment's time;
- *start latency*: campaign start to the agent's first tool call (placement, restore from storage, start-up).

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
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="abench-"))
    rows: dict[str, dict[str, Any]] = {}
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


if __name__ == "__main__":
    main()
