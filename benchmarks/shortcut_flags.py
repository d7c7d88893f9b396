"""Calibration of the scoring service's integrity flags on the literature baselines (issue 14).

Runs each baseline that learns from the teacher (and zeroshot, reported for what it is) on each dataset of a built
suite for several seeds, then applies the server's flag rules (aarlab/server/_integrity.py) to each seed's test
predictions exactly as the service would: a keyed public/private split, rounded public scores, the shortcut
references from the agent-visible inputs and the build's model-based ones (e.g. strong-zero-shot). Prints one
line per method x dataset x seed with the accuracy, the agreement with each shortcut, the flag threshold and the
flags that fired; then the shortcuts themselves submitted as cheats, and the true labels (an LLM-knowledge stand-in:
labels read from a file the method was given). Nothing is built: the suite must already be
built in the home (copy a built home to try it).

    AARLAB_HOME=/tmp/home python benchmarks/shortcut_flags.py [--suite tiny] [--seeds 3] [--lane probe] [--methods ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from aarlab.server._integrity import (
    Baselines,
    ShortcutReference,
    ceiling_flag,
    constant_flag,
    gap_flag,
    shortcut_flag,
)
from aarlab.server._scoring import public_assignment, round_score
from aarlab.w2s.data import distinct_items, item_key
from aarlab.w2s.metrics import pgr
from aarlab.w2s.shortcuts import read_references, shortcut_predictions

TEACHER_BASELINES = ["vanilla", "soft", "confident", "auxconf", "bootstrap", "ue_weak"]


def _references(test: list, visible: list, positive: np.ndarray, public: np.ndarray,
                built: dict[str, dict[str, float]]) -> list[ShortcutReference]:
    refs = []
    for name, by_id in {**shortcut_predictions(test, visible), **built}.items():
        p = np.array([by_id[e.id] for e in test])
        rows = public & (p != 0.5)
        acc = round_score(float(np.mean((p[rows] > 0.5) == positive[rows]))) if rows.any() else 0.5
        refs.append(ShortcutReference(name, p, acc))
    return refs


def _judge(label: str, probs: np.ndarray, positive: np.ndarray, public: np.ndarray, base: Baselines,
           refs: list[ShortcutReference]) -> list[str]:
    acc = round_score(float(np.mean((probs[public] > 0.5) == positive[public])))
    public_pgr = round_score(pgr(base.weak_acc, base.strong_acc, acc)) if base.strong_acc > base.weak_acc else None
    flags = [f for f in (constant_flag(probs), gap_flag(base), ceiling_flag(base, public_pgr)) if f]
    cells = []
    for ref in refs:
        opinion = ref.predictions != 0.5
        agree = float(np.mean((probs[opinion] > 0.5) == (ref.predictions[opinion] > 0.5))) if opinion.any() else 0
        found = shortcut_flag(ref, probs, base)
        threshold = found.evidence["threshold"] if found else None
        cells.append(f"{ref.name} {agree:.3f}" + (f" (>= {threshold})" if threshold is not None else ""))
        if found:
            flags.append(found)
    kinds = ",".join(f.kind for f in flags) or "-"
    return [label, f"{acc:.2f}", "-" if public_pgr is None else f"{public_pgr:.2f}", *cells, kinds]


def main() -> None:
    """Run the calibration and print the table."""
    from aarlab.home import resolve_home
    from aarlab.suites import load_suite
    from aarlab.w2s.methods import resolve_method
    from aarlab.w2s.pipeline import Experiment, default_cache

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="tiny")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", nargs="*", default=[*TEACHER_BASELINES, "zeroshot"])
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--lane", default=None, help="finetune or probe (default: the suite's)")
    args = parser.parse_args()
    suite = load_suite(args.suite, resolve_home(None))
    secret = b"calibration"
    for dataset in args.datasets or list(suite.spec.datasets):
        start = time.perf_counter()
        experiment = Experiment(suite, dataset, default_cache(suite), lane=args.lane)
        test = experiment.dataset.split("test")
        visible = [e.without_label() for e in experiment.dataset.split("train_unlabel")] + \
            [e.without_label() for e in test]
        positive = np.array([bool(e.positive()) for e in test])
        public = public_assignment([e.id for e in test], dataset, secret, 0.5,  # whole items, as the service does
                                   groups=[item_key(e) for e in test])
        refs = _references([e.without_label() for e in test], visible, positive, public,
                           read_references(suite.root, dataset))
        rows = []
        base = None
        for name in args.methods:
            result = experiment.run(resolve_method(name), list(range(args.seeds)), require_gap=False)
            base = Baselines(result.weak_acc, result.strong_acc, distinct_items(test),  # as the service counts
                             distinct_items([e for e, p in zip(test, public, strict=True) if p]))
            for seed, by_id in result.test_predictions.items():
                probs = np.array([by_id[e.id] for e in test])
                rows.append(_judge(f"{name}/{seed}", probs, positive, public, base, refs))
                print(f"  {dataset}: " + " | ".join(rows[-1]), flush=True)
        if base is not None:
            for ref in refs:
                rows.append(_judge(f"cheat:{ref.name}", ref.predictions, positive, public, base, refs))
            # The LLM-knowledge stand-in: labels read from a file the method was given (here, the truth itself).
            rows.append(_judge("cheat:labels-from-file", positive.astype(float), positive, public, base, refs))
        print(f"\n{suite.name}/{dataset}: weak {base.weak_acc:.3f} strong {base.strong_acc:.3f} "
              f"shortcuts public acc {', '.join(f'{r.name} {r.public_acc:.2f}' for r in refs)} "
              f"({time.perf_counter() - start:.0f} s)" if base else f"\n{dataset}: no methods run")
        for row in rows:
            print("  " + " | ".join(row))


if __name__ == "__main__":
    main()
