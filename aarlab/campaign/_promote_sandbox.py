"""The sandbox side of a promotion re-run: one method on one dataset for the platform's seeds, label-free.

Each seed reads its own agent-visible copy (``<data-root>/s<seed>/<dataset>/``, written by the host with that
seed's weak teacher, or that teacher's labels shuffled) and writes ``<out-dir>/s<seed>.jsonl`` (``{id, p}``).
The model is loaded once per seed by :func:`aarlab.agents.search._trial.run_experiment` (the same code an
agent's ``w2s_run`` uses), all seeds in one process so torch is imported once.

    python -m aarlab.campaign._promote_sandbox --method methods/mine.py --suite tiny --home H --dataset math \
        --seeds 11,22,33 --lane probe --data-root /data --out-dir /workspace/promotion-out
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the method for every seed; exit 2 with one ``error:`` line when it cannot."""
    from aarlab.agents.search._trial import run_experiment
    from aarlab.w2s.methods import MethodError

    parser = argparse.ArgumentParser(prog="python -m aarlab.campaign._promote_sandbox")
    parser.add_argument("--method", required=True, help="A built-in method name or a workspace .py path")
    parser.add_argument("--suite", required=True)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seeds", required=True, help="Comma-separated seeds")
    parser.add_argument("--lane", choices=("finetune", "probe"), required=True)
    parser.add_argument("--overrides", default="{}", help="JSON object of training-recipe fields")
    parser.add_argument("--data-root", default=Path("/data"), type=Path)
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
        overrides = json.loads(args.overrides)
        for seed in seeds:
            run_experiment(args.method, suite_name=args.suite, home=args.home, data_dir=args.data_root / f"s{seed}",
                           dataset=args.dataset, seed=seed, out=args.out_dir / f"s{seed}.jsonl", lane=args.lane,
                           overrides=overrides, feature_cache=Path("/tmp/features"))
    except (MethodError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"seeds": seeds, "out_dir": str(args.out_dir)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
