"""Differential-attack benchmark of the score channel: labels recovered per submission, public and private.

    python benchmarks/label_leak.py [--n-test 2000] [--budget 50] [--colluders 3] [--trials 3] [--ladder-z Z]
                                    [--ladder-noise NU]
                                    [--modes legacy,ladder] [--json FILE]

For each mode (``legacy``: the channel before issue 15, every submission rounded to 0.01 and exact private scores
per agent/method at finalize; ``ladder``: the default settings) and each trial (a fresh fake suite, seed = trial,
and a fresh server on 127.0.0.1 with the default budget), agents run the attacks of ``tests/server/attack.py``
on dataset ``math`` with their whole budget: the boundary attack (prefix binary search + one flip per query),
the boosting attack (random re-draws, better queries vote), ``--colluders`` agents pooling a boosting attack,
the same colluders sweeping up to the Ladder's bars with a model 0.03 or 0.10 above the first bar (repositioning
under each next bar while the model reaches it), and an agent probing private scores with one-flip submissions
under distinct method names (read after finalize with its token). Then the honest side: an agent submitting models
whose public accuracy is 0.03 / 0.05 / 0.10 above its current score (independent errors) and the share of them that
register (move the score).

"Labels recovered" = correct guesses minus the correct guesses of the attacker's own default (what it would guess
without the score channel), summed over a part (public / private), divided by the submissions the attack spent;
averaged over trials (± the standard error over trials). Certain labels are counted separately. The target of
issue 15 is <= 0.01 per submission on both parts with the default settings.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aarlab.client import ScoringClient  # noqa: E402
from aarlab.server import ServerSettings, add_agent, init_state, listen, read_admin_token  # noqa: E402
from aarlab.server._scoring import ladder_noise_sd, ladder_step  # noqa: E402
from tests.server.attack import (  # noqa: E402
    AttackResult,
    boosting_attack,
    boundary_attack,
    private_attack,
    read_private,
    recovery,
    sweep_attack,
)
from tests.server.conftest import wait_ready  # noqa: E402
from tests.server.fakesuite import BASELINES, SUITE, fake_labels, fake_test_ids, write_fake_suite  # noqa: E402
from tests.server.helpers import public_mask  # noqa: E402

DATASET = "math"
TARGET = 0.01
HONEST_GAINS = (0.03, 0.05, 0.10)
HONEST_MODELS = 6


class Campaign:
    """A fresh state on a fake suite, served from a thread on loopback."""

    def __init__(self, root: Path, n_test: int, seed: int, settings: ServerSettings) -> None:
        self.home = write_fake_suite(root / "home", n_test, seed=seed)
        self.state = root / "state"
        init_state(self.state, suite=SUITE, home=self.home).db.dispose()
        self.listener = listen(self.state, settings, port=0)
        self.thread = threading.Thread(target=self.listener.run, daemon=True)
        self.thread.start()
        self.url = self.listener.urls[0]
        wait_ready(self.url)
        self.ids = fake_test_ids(self.home, DATASET)
        self.labels = fake_labels(self.home, DATASET)
        self.public = public_mask(self.state, DATASET)

    def agent(self, name: str) -> ScoringClient:
        """A client with a new agent's token (default budget)."""
        return ScoringClient(self.url, add_agent(self.state, name, None))

    def admin(self) -> ScoringClient:
        """A client with the admin token."""
        return ScoringClient(self.url, read_admin_token(self.state))

    def stop(self) -> None:
        """Stop the server."""
        self.listener.server.should_exit = True
        self.thread.join(timeout=30)


def _rises(result: AttackResult) -> float:
    """How often a score above every earlier one came back (per agent's transcript when pooled)."""
    count, best = 0, None
    for value in result.transcript:
        if value == -1.0:  # an agent boundary in a pooled transcript
            best = None
            continue
        if best is not None and value > best:
            count += 1
        best = value if best is None or value > best else best
    return float(count)


def _pooled(results: list[AttackResult], votes: Counter[str], default: dict[str, bool] | bool) -> AttackResult:
    guesses = {i: v > 0 for i, v in votes.items() if v != 0}
    return AttackResult(guesses, default, set().union(*(r.certain for r in results)),
                        [x for r in results for x in [-1.0, *r.transcript]], sum(r.submissions for r in results))


def _model(camp: Campaign, acc: float, seed: int) -> tuple[dict[str, bool], list[str]]:
    """A model whose expected accuracy is ``acc``: right on a random confident set, a coin elsewhere."""
    rng = random.Random(1000 + seed)
    confident_share = min(1.0, max(0.0, 2 * acc - 1))
    confident = [i for i in camp.ids if rng.random() < confident_share]
    chosen = set(confident)
    model = {i: camp.labels[i] if i in chosen else rng.random() < 0.5 for i in camp.ids}
    return model, confident


def _first_bar(camp: Campaign, weak: float, step: float, noise_sd: float) -> float:
    """The server's first bar: weak + step, or its floor (chance + ladder_chance_z sd) where that is higher."""
    public = [camp.labels[i] for i in camp.ids if camp.public[i]]
    rate = sum(public) / len(public)
    spread = math.sqrt(0.25 / len(public) + noise_sd ** 2)
    return max(weak + step, max(rate, 1 - rate) + ServerSettings().ladder_chance_z * spread)


def _honest(camp: Campaign, client: ScoringClient, delta: float, start: float, seed: int) -> dict[str, float]:
    """An honest agent submitting models whose public accuracy is ``delta`` above its current score each time
    (independent errors: each model is right on a fresh random set of the exact size); the share that register.
    Before its first climb its "score" is ``start`` = the first bar - step (the weak teacher's accuracy unless the
    floor binds, as on the fake suite whose weak teacher is 0.05 above chance)."""
    rng = random.Random(7000 + seed)
    public = [i for i in camp.ids if camp.public[i]]
    private = [i for i in camp.ids if not camp.public[i]]
    level, tried, climbed, shown = start, 0, 0, round(BASELINES[DATASET][0], 2)
    while level + delta <= 0.99 and tried < HONEST_MODELS:
        right: set[str] = set()
        for part in (public, private):
            right |= set(rng.sample(part, round((level + delta) * len(part))))
        receipt = client.submit(DATASET, {i: float(camp.labels[i] == (i in right)) for i in camp.ids},
                                method="honest")
        tried += 1
        if receipt.public_transfer_acc > shown:
            shown = receipt.public_transfer_acc
            climbed += 1
            level = receipt.public_transfer_acc
    return {"submissions": float(tried), "registered": climbed / max(tried, 1), "honest": 1.0}


def run_trial(mode: str, n_test: int, budget: int, colluders: int, z: float, noise: float,
              seed: int, bits: float | None = ServerSettings().ladder_bits) -> dict[str, dict]:
    """Every attack on one fresh campaign; returns recovery figures per attack."""
    settings = ServerSettings(default_budget=budget, rate_per_s=10_000, rate_burst=10_000, public_feedback=mode,
                              ladder_z=z, ladder_noise=noise, ladder_bits=bits)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        camp = Campaign(Path(tmp), n_test, seed, settings)
        try:
            out: dict[str, dict] = {}
            def figures(result: AttackResult) -> dict:
                return {**recovery(result, camp.labels, camp.public), "rises": _rises(result)}

            with camp.agent("boundary") as c:
                out["boundary"] = figures(boundary_attack(c, DATASET, camp.ids, budget + 5, seed=seed))
            with camp.agent("boosting") as c:
                out["boosting"] = figures(boosting_attack(c, DATASET, camp.ids, budget + 5, seed=seed))
            votes: Counter[str] = Counter()
            runs = []
            for k in range(colluders):
                with camp.agent(f"boost-colluder{k}") as c:
                    runs.append(boosting_attack(c, DATASET, camp.ids, budget + 5, seed=seed * 100 + k, votes=votes))
            out[f"boosting x{colluders} colluding"] = figures(_pooled(runs, votes, False))
            n_public = sum(camp.public.values())
            weak = BASELINES[DATASET][0]
            step = ladder_step(n_public, z)
            sd = ladder_noise_sd(n_public, noise)
            bar = _first_bar(camp, weak, step, sd)
            for gap in (0.03, 0.10):
                model, confident = _model(camp, bar + gap, seed)
                votes, runs = Counter(), []
                for k in range(colluders):
                    with camp.agent(f"sweep{gap:g}-colluder{k}") as c:
                        runs.append(sweep_attack(c, DATASET, camp.ids, budget + 5, seed=seed * 100 + k, model=model,
                                                 confident=confident, model_acc=bar + gap, weak=weak, step=step,
                                                 n_public=n_public, noise_sd=sd, first_bar=bar, votes=votes))
                name = f"sweep, model {gap:.2f} over the first bar x{colluders} colluding"
                out[name] = figures(_pooled(runs, votes, dict(model)))
            for delta in HONEST_GAINS:
                with camp.agent(f"honest{delta:g}") as c:
                    out[f"honest: each model +{delta:.2f} over the score"] = _honest(camp, c, delta, bar - step,
                                                                                     seed)
            with camp.agent("prober") as c:
                probes = private_attack(c, DATASET, camp.ids, budget, seed=seed)
                with camp.admin() as admin:
                    admin.finalize()
                out["private probes after finalize"] = figures(read_private(c, DATASET, probes))
        finally:
            camp.stop()
    return out


def _mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return mean, se


def main(argv: list[str] | None = None) -> int:
    """Run every attack in every mode and print labels recovered per submission."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-test", type=int, default=2000, help="test examples (half public)")
    parser.add_argument("--budget", type=int, default=ServerSettings().default_budget, help="evaluations per agent")
    parser.add_argument("--colluders", type=int, default=3, help="agents pooling what they learn")
    parser.add_argument("--trials", type=int, default=10, help="fresh campaigns (seeds) for the ladder mode")
    parser.add_argument("--legacy-trials", type=int, default=2, help="fresh campaigns for the legacy mode")
    parser.add_argument("--ladder-z", type=float, default=ServerSettings().ladder_z, help="the Ladder's step in "
                        "standard deviations (default: the server's default)")
    parser.add_argument("--ladder-noise", type=float, default=ServerSettings().ladder_noise, help="the Ladder's "
                        "perturbation in the same units (default: the server's default)")
    parser.add_argument("--ladder-bits", type=float, default=ServerSettings().ladder_bits,
                        help="the Ladder's information budget per agent and dataset in bits; a negative value = "
                        "unlimited (default: the server's default)")
    parser.add_argument("--modes", default="legacy,ladder", help="comma-separated: legacy, ladder, none")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    bits = None if args.ladder_bits is None or args.ladder_bits < 0 else args.ladder_bits
    n_public = round(args.n_test * 0.5)
    print(f"n_test={args.n_test} (public {n_public}), budget={args.budget}, colluders={args.colluders}, "
          f"trials={args.trials}, ladder z={args.ladder_z:g} (step {ladder_step(n_public, args.ladder_z):.2f}), "
          f"noise {args.ladder_noise:g} (sd {ladder_noise_sd(n_public, args.ladder_noise):.3f}), "
          f"information budget {'unlimited' if bits is None else f'{bits:g} bits'}")
    everything: dict[str, Any] = {}
    worst: dict[str, dict[str, dict[str, float]]] = {}
    for mode in args.modes.split(","):
        count = args.legacy_trials if mode == "legacy" else args.trials
        trials = [run_trial(mode, args.n_test, args.budget, args.colluders, args.ladder_z, args.ladder_noise, s,
                            bits) for s in range(count)]
        everything[mode] = trials
        print(f"\n{mode}: labels recovered per submission (mean ± SE over {count} trials); certain labels and "
              "score rises seen per trial")
        print(f"{'attack':44} {'subs':>5} {'public/sub':>16} {'private/sub':>16} {'certain pub/priv':>17} "
              f"{'rises':>6}")
        for attack in trials[0]:
            rows = [t[attack] for t in trials]
            if "honest" in rows[0]:
                continue
            pub, pub_se = _mean_se([r["public_per_submission"] for r in rows])
            priv, priv_se = _mean_se([r["private_per_submission"] for r in rows])
            subs = statistics.fmean(r["submissions"] for r in rows)
            certain = (statistics.fmean(r["public_certain"] for r in rows),
                       statistics.fmean(r["private_certain"] for r in rows))
            rises = statistics.fmean(r["rises"] for r in rows)
            print(f"{attack:44} {subs:5.0f} {pub:+8.3f} ± {pub_se:5.3f} {priv:+8.3f} ± {priv_se:5.3f} "
                  f"{certain[0]:8.1f} / {certain[1]:5.1f} {rises:6.1f}")
            group = "sweep" if attack.startswith("sweep") else "differential"
            best = worst.setdefault(mode, {}).setdefault(group, {"public": float("-inf"), "private": float("-inf")})
            best["public"] = max(best["public"], pub, certain[0] / max(subs, 1))
            best["private"] = max(best["private"], priv, certain[1] / max(subs, 1))
        honest = [a for a in trials[0] if "honest" in trials[0][a]]
        if honest:
            print(f"\n{mode}: honest feedback: share of improving models that register (moved the score)")
        for attack in honest:
            rows = [t[attack] for t in trials]
            share, share_se = _mean_se([r["registered"] for r in rows])
            subs = statistics.fmean(r["submissions"] for r in rows)
            print(f"{attack:44} {subs:5.0f} {share:8.2f} ± {share_se:4.2f}")
            everything.setdefault("honest", {}).setdefault(mode, {})[attack] = share
    print()
    everything.pop("honest", None)
    for mode, groups in worst.items():
        for group, best in groups.items():
            what = ("differential attacks (boundary, boosting, colluding boosters, private probes)"
                    if group == "differential" else "colluding sweeps with a model above the bar")
            verdict = "meets" if max(best.values()) <= TARGET else "misses"
            print(f"{mode}: {what}: strongest {best['public']:+.3f} public, {best['private']:+.3f} private labels "
                  f"per submission, recovered or certain ({verdict} the <= {TARGET} target)")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
