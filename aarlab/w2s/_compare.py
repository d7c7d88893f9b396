"""Compare methods across a suite's datasets and seeds; render the table as Markdown (docs/results/*.md)."""

from __future__ import annotations

import json
import multiprocessing as mp
import queue
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from aarlab._files import atomic_write_text
from aarlab._threads import pick_threads, use_threads
from aarlab.suites import Suite


def _dataset_worker(suite: Suite, dataset: str, methods: list[str], seeds: list[int], threads: int,
                    lane: str | None, rows: Any) -> None:
    """Run ``methods`` on one dataset (models loaded once) and put each cell's result on ``rows`` as it finishes."""
    from aarlab.w2s.methods import resolve_method
    from aarlab.w2s.pipeline import Experiment, default_cache

    use_threads(threads)
    experiment = Experiment(suite, dataset, default_cache(suite), lane=lane)
    for m in methods:
        # a dataset whose ceiling does not beat its teacher in this lane is still a row: accuracies, PGR n/a
        rows.put(experiment.run(resolve_method(m), seeds, require_gap=False).as_dict())


def compare_methods(
    suite: Suite,
    methods: list[str],
    seeds: list[int],
    workers: int = 2,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    lane: str | None = None,
    datasets: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Run every method on every dataset (or ``datasets``) in one lane (one process per dataset, ``workers`` at a
    time). ``on_done`` gets each cell's result as soon as it finishes, so a caller can keep it even if a later cell
    fails or the run is interrupted (hours of fine-tuning are not lost to the last cell)."""
    for d in datasets or []:
        suite.check_dataset(d)
    names = datasets or suite.spec.datasets
    ctx = mp.get_context("spawn")
    results: list[dict[str, Any]] = []
    threads = pick_threads(workers=min(workers, len(names)))  # the cores shared by the workers running at once
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        rows = manager.Queue()
        futures = [pool.submit(_dataset_worker, suite, d, methods, seeds, threads, lane, rows) for d in names]
        while len(results) < len(names) * len(methods):
            try:
                row = rows.get(timeout=0.5)
            except queue.Empty:
                for future in futures:
                    if future.done():
                        future.result()  # a failed worker raises here instead of leaving us waiting
                continue
            results.append(row)
            if on_done is not None:
                on_done(row)
        for future in futures:
            future.result()
    return results


def _result_key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r.get("lane", "finetune"), r["dataset"], r["method"])


def merge_results(path: Path, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge ``results`` into the JSON list at ``path`` (a newer run of the same lane, dataset and method replaces
    the older one), write it back and return the merged list. Lets expensive lanes be run cell by cell."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            if not isinstance(old, list):
                raise TypeError("not a list of results")
            merged.update({_result_key(r): r for r in old})
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as err:
            raise ValueError(f"{path}: not a results file written by `aarlab w2s compare --json` ({err})") from None
    merged.update({_result_key(r): r for r in results})
    rows = [merged[k] for k in sorted(merged)]
    atomic_write_text(path, json.dumps(rows, indent=1, default=str) + "\n")  # a kill mid-write keeps the old file
    return rows


def read_question_blind(suite: Suite) -> dict[str, dict[str, float]]:
    """Question-blind baseline accuracies per dataset and role from the suite's build report ({} if none)."""
    path = suite.root / "build_report.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("builder", {}).get("question_blind", {}))


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "not run"
    if r["pgr"] is None:
        return f"n/a: no gap (acc {r['transfer_acc']:.3f})"
    low, high = r["pgr_ci"]
    return f"{r['pgr']:.2f} [{low:.2f}, {high:.2f}] (acc {r['transfer_acc']:.3f})"


def _lane_section(lane: str, results: list[dict[str, Any]], datasets: list[str], methods: list[str]) -> list[str]:
    by = {(r["method"], r["dataset"]): r for r in results}
    run = len(by)
    lines = [f"## {lane} lane", "",
             f"{run} of {len(methods) * len(datasets)} method x dataset cells run (\"not run\" marks the others).", "",
             "| dataset | weak_acc | strong_acc | vanilla transfer_acc |", "|---|---|---|---|"]
    for d in datasets:
        rows = [r for r in results if r["dataset"] == d]
        if not rows:
            continue
        first = rows[0]  # every method shares the teacher and ceiling
        vanilla = by.get(("vanilla", d))
        transfer = f"{vanilla['transfer_acc']:.3f}" if vanilla else "-"
        lines.append(f"| {d} | {first['weak_acc']:.3f} | {first['strong_acc']:.3f} | {transfer} |")
    lines += ["", "PGR [95% CI] (transfer_acc):", "", "| method | " + " | ".join(datasets) + " |",
              "|---|" + "---|" * len(datasets)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(_cell(by.get((m, d))) for d in datasets) + " |")
    lines += ["", "Per seed PGR:", "", "| method | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    for m in methods:
        cells = [" ".join("n/a" if s["pgr"] is None else f"{s['pgr']:.2f}" for s in by[(m, d)]["seeds"])
                 + f" (seeds {','.join(str(s['seed']) for s in by[(m, d)]['seeds'])})"
                 if (m, d) in by else "-" for d in datasets]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + [""]


def acceptance(results: list[dict[str, Any]], dataset: str, min_gap: float, lane: str) -> tuple[bool, str] | None:
    """Whether ``dataset`` meets the acceptance bar in these results (strong_acc >= weak_acc + ``min_gap`` and
    0 < vanilla PGR < 1, both for the PGR of the means over seeds and on every seed), with the numbers; None
    without a vanilla run."""
    vanilla = next((r for r in results if r["dataset"] == dataset and r["method"] == "vanilla"
                    and r.get("lane", "finetune") == lane), None)
    if vanilla is None:
        return None
    from aarlab.w2s.metrics import pgr_bar_misses

    gap = vanilla["strong_acc"] - vanilla["weak_acc"]
    ok = gap >= min_gap and not pgr_bar_misses(vanilla)
    pgrs = [vanilla["pgr"], *(s.get("pgr") for s in vanilla.get("seeds", []))]
    shown = ["n/a" if p is None else f"{p:.2f}" for p in pgrs]
    per_seed = f" (per seed {' / '.join(shown[1:])})" if len(shown) > 1 else ""
    return ok, f"gap {gap:.3f}, vanilla PGR {shown[0]}{per_seed}"


def acceptance_lines(suite: Suite, results: list[dict[str, Any]], datasets: list[str]) -> list[str]:
    """What the suite file declares experimental, and which datasets meet the bar in *these* numbers (the suite's
    lane): a declaration is not a measurement, and a builder that draws its world from a secret can land either
    way on a given installation."""
    lines = []
    declared = [d for d in datasets if d in suite.spec.experimental]
    if declared:
        lines.append(f"Declared experimental in the suite file (not held to the acceptance bar when building): "
                     f"{', '.join(declared)}.")
    measured = {d: acceptance(results, d, suite.spec.min_gap, suite.spec.lane) for d in datasets}
    if any(v is not None for v in measured.values()):
        bar = (f"strong_acc >= weak_acc + {suite.spec.min_gap:g} and 0 < vanilla PGR < 1 on the means and on every "
               f"seed, {suite.spec.lane} lane")
        met = [f"{d} ({v[1]})" for d, v in measured.items() if v is not None and v[0]]
        missed = [f"{d} ({v[1]})" for d, v in measured.items() if v is not None and not v[0]]
        lines.append(f"Measured here against the acceptance bar ({bar}): meets it: {', '.join(met) or 'none'}"
                     + (f"; misses it: {', '.join(missed)}" if missed else "") + ".")
    return [*lines, ""] if lines else []


def markdown_table(suite: Suite, results: list[dict[str, Any]], seeds: list[int],
                   question_blind: dict[str, dict[str, float]] | None = None, notes: str | None = None,
                   command: str | None = None, provenance: str | None = None) -> str:
    """Markdown report: per lane, baselines per dataset and PGR (95% CI) for every method x dataset; then the
    question-blind baseline per dataset when known, then ``notes`` (hand-written Markdown) verbatim."""
    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    methods = sorted(dict.fromkeys(r["method"] for r in results))
    lanes = sorted(dict.fromkeys(r.get("lane", "finetune") for r in results), key=lambda lane: lane != "probe")
    lane_flags = " ".join(f"--lane {lane}" for lane in lanes)
    command = command or f"aarlab w2s compare --suite {suite.name} {lane_flags} --seeds {len(seeds)} --out <this file>"
    lines = [
        f"# Results: `{suite.name}` suite",
        "",
        f"Generated by `{command}`{f' ({provenance})' if provenance else ''}. "
        f"Seeds {seeds}; accuracies are means over seeds, PGR is the PGR of those means, the interval a 95% "
        "bootstrap over seeds and test examples.",
        "",
    ]
    lines += acceptance_lines(suite, results, datasets)
    for lane in lanes:
        lines += _lane_section(lane, [r for r in results if r.get("lane", "finetune") == lane], datasets, methods)
    if question_blind:
        roles = sorted({role for accs in question_blind.values() for role in accs})
        lines += ["## Question-blind baseline", "",
                  "A probe that sees only the answer text (trained on train_unlabel ground truth, scored on test). "
                  "Near the weak teacher, it would mean the dataset has a shortcut.", "",
                  "| dataset | " + " | ".join(f"{r} features" for r in roles) + " |", "|---|" + "---|" * len(roles)]
        for d in datasets:
            if d in question_blind:
                lines.append(f"| {d} | " + " | ".join(f"{question_blind[d].get(r, float('nan')):.3f}"
                                                     for r in roles) + " |")
        lines.append("")
    if notes:
        lines += ["## Notes (hand-written, not generated)", "", notes.strip(), ""]
    return "\n".join(lines)
