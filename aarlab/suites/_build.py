"""``aarlab suites build``: run a suite's builder (if any), then fix its baselines.

Baselines are the means over the suite's baseline seeds of weak_acc, strong_acc and vanilla transfer_acc. They are
written once to ``baselines.json`` with a version derived from everything that produced them; the scoring service
imports them read-only.

A build holds the suite's build lock (``fcntl.flock`` on ``<root>/.build.lock``): a second build of the same suite
started meanwhile waits for it, says so, and then uses its result. A builder writes only under the suite's home:
a suite with a builder and a data dir (``--data-dir`` or ``data_dir``) is never built against that dir.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from aarlab.suites._ground_truth import DatasetBaseline, SuiteBaselines
from aarlab.suites._preflight import check_inputs
from aarlab.suites._spec import Suite
from aarlab.w2s.cache import cache_key

Progress = Callable[[str, float, float], None]
Log = Callable[[str], None]
LOCK_FILE = ".build.lock"

#: A suite file's ``builder`` -> the package that builds it. Each exposes ``build(suite, progress, workers, log)``
#: (returns the builder's report) and may expose ``after_baselines(suite, report, progress, recompute_baselines)``,
#: run once the baselines are in ``report["vanilla"]``: it may change the built models and then replaces
#: ``report["vanilla"]`` with ``recompute_baselines()``. A builder that draws its own world from the build secret
#: exposes ``discard_world(suite)`` (see :func:`_build`), and ``REFUSES_OUTSIDE_BAR = True`` when a vanilla PGR of
#: the seed means outside (0, 1) after every gate refuses its world (otherwise it is a warning).
BUILDERS = {"tiny": "aarlab.suites.tiny", "cpu": "aarlab.suites.cpu"}


#: Worlds one build of a builder that draws its own (tiny: ``discard_world``) may try: when a check refuses the world
#: drawn from a build secret the build drew itself, it draws another secret and starts over (every refusal in the
#: build report's ``refused_worlds``). Measured on tiny: 1 fresh secret in 6 refused for its gap (version
#: tiny-7a741b30c86f), and 2 of 7 worlds of version tiny-c59eca569d75 for a math vanilla PGR of the means >= 1 after
#: the ceiling gate; at ~30% a build fails once in ~400 with 5 worlds (1 in ~40 with 3).
MAX_WORLDS = 5


class SuiteBuildError(RuntimeError):
    """The suite could not be built to specification; the message says what failed.

    ``report`` holds what the failing stage had measured (the builder's gates, the baselines), for the build report.
    """

    def __init__(self, message: str, *, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report


def _vanilla_worker(suite: Suite, dataset: str) -> dict[str, Any]:
    from aarlab._threads import pick_threads, use_threads
    from aarlab.w2s.methods import resolve_method
    from aarlab.w2s.pipeline import Experiment, default_cache

    use_threads(pick_threads(workers=2))  # compute_baselines runs two datasets at once (its default workers)
    experiment = Experiment(suite, dataset, default_cache(suite))
    out = experiment.run(resolve_method("vanilla"), suite.spec.baseline_seeds).as_dict()
    out["strong_zero_shot_acc"] = _write_strong_zero_shot(suite, experiment)
    return out


def _write_strong_zero_shot(suite: Suite, experiment: Any) -> float:
    """Write the strong model's zero-shot test predictions as the ``strong-zero-shot`` shortcut reference.

    The scoring service imports it at init and flags a submission that copies it (labels read off the strong
    model without the teacher). A label-free procedure; its accuracy (returned) goes in the build report only.
    """
    from aarlab.w2s.methods import resolve_method
    from aarlab.w2s.shortcuts import STRONG_ZERO_SHOT, write_reference

    seed = suite.spec.baseline_seeds[0]
    result = experiment.run(resolve_method("zeroshot"), [seed], require_gap=False)
    write_reference(suite.root, experiment.dataset.name, STRONG_ZERO_SHOT, result.test_predictions[seed])
    return float(result.transfer_acc)


def is_built(suite: Suite) -> bool:
    """Whether the suite's baselines exist for its current definition."""
    path = suite.root / "baselines.json"
    try:
        return json.loads(path.read_text()).get("version") == suite_version(suite)
    except (OSError, ValueError, AttributeError):  # missing, or being written by a build right now
        return False


def suite_version(suite: Suite) -> str:
    """A version string that changes whenever the suite definition changes."""
    return f"{suite.name}-{cache_key(suite.spec.identity())[:12]}"


def gap_problems(results: dict[str, dict[str, Any]], min_gap: float, experimental: list[str]) -> list[str]:
    """One line per dataset whose strong_acc - weak_acc misses ``min_gap``; datasets in ``experimental`` are exempt."""
    return [f"{d}: strong_acc {r['strong_acc']:.3f} - weak_acc {r['weak_acc']:.3f} < {min_gap}"
            for d, r in results.items() if r["strong_acc"] - r["weak_acc"] < min_gap and d not in experimental]


def pgr_bar_problems(results: dict[str, dict[str, Any]], experimental: list[str]) -> list[str]:
    """One line per dataset held to the bar whose vanilla PGR is not in (0, 1): the PGR of the means over the seeds,
    or any seed's own (a seed without a gap of its own counts as outside)."""
    from aarlab.w2s.metrics import pgr_bar_misses

    lines = []
    for d, r in results.items():
        if d in experimental or r.get("pgr") is None:
            continue  # no gap over the means: the build refuses the dataset (gap_problems), no PGR to judge
        misses = pgr_bar_misses(r)
        if not misses:
            continue
        outside = [(where, p) for where, p in misses if where != "mean"]
        shown = ", ".join(f"{where} {'n/a' if p is None else f'{p:.2f}'}" for where, p in outside)
        lines.append(_bar_line(d, r) + (f"; outside on {shown}" if outside else ""))
    return lines


def _bar_line(dataset: str, r: dict[str, Any]) -> str:
    return (f"{dataset}: vanilla PGR {r['pgr']:.2f} (weak_acc {r['weak_acc']:.3f}, strong_acc {r['strong_acc']:.3f}, "
            f"transfer_acc {r['transfer_acc']:.3f})")


def mean_bar_problems(results: dict[str, dict[str, Any]], experimental: list[str]) -> list[str]:
    """One line per dataset held to the bar whose vanilla PGR of the means over the seeds is not in (0, 1)."""
    from aarlab.w2s.metrics import pgr_bar_misses

    return [_bar_line(d, r) for d, r in results.items() if d not in experimental and r.get("pgr") is not None
            and any(where == "mean" for where, _p in pgr_bar_misses(r))]


def compute_baselines(suite: Suite, progress: Progress, workers: int = 2) -> dict[str, Any]:
    """Run vanilla W2S on every dataset for the baseline seeds; returns the results by dataset (nothing written:
    :func:`write_baselines` does that once every check of the build has passed)."""
    from aarlab.w2s.metrics import DegenerateGapError

    ctx = mp.get_context("spawn")
    results: dict[str, Any] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {d: pool.submit(_vanilla_worker, suite, d) for d in suite.spec.datasets}
        progress("baselines", 0, len(futures))
        for i, (dataset, future) in enumerate(futures.items()):
            try:
                results[dataset] = future.result()
            except DegenerateGapError as err:  # also for experimental datasets: PGR is undefined without a gap
                raise SuiteBuildError(f"dataset {dataset!r} has no weak-to-strong gap ({err}); fix its builder or "
                                      "take it out of the suite's datasets") from None
            progress("baselines", i + 1, len(futures))
    problems = gap_problems(results, suite.spec.min_gap, suite.spec.experimental)
    if problems:
        raise SuiteBuildError("the strong ceiling does not beat the weak teacher enough: " + "; ".join(problems),
                              report=results)
    return results


def write_baselines(suite: Suite, results: dict[str, Any]) -> None:
    """Write ``baselines.json`` (what makes the suite built) from :func:`compute_baselines`' results, atomically:
    a reader, or a build killed mid-write, sees the old file or the whole new one."""
    data_dir = suite.data_path(suite.spec.datasets[0]).parent
    baselines = SuiteBaselines(
        suite=suite.name,
        version=suite_version(suite),
        data_dir=None if data_dir == suite.root / "data" else str(data_dir.resolve()),
        datasets={
            d: DatasetBaseline(weak_acc=r["weak_acc"], strong_acc=r["strong_acc"],
                               vanilla_transfer_acc=r["transfer_acc"], seeds=suite.spec.baseline_seeds)
            for d, r in results.items()
        },
    )
    tmp = suite.root / f".baselines.json.{os.getpid()}.tmp"
    tmp.write_text(baselines.model_dump_json(indent=2))
    os.replace(tmp, suite.root / "baselines.json")


def refuse_user_data_dir(suite: Suite) -> None:
    """Raise :class:`SuiteBuildError` if building ``suite`` would let its builder write outside its home."""
    if suite.spec.builder is None:
        return  # no builder: a build only reads the datasets (baselines), wherever they are
    for dataset in suite.spec.datasets:
        path = suite.data_path(dataset)
        if not path.resolve().is_relative_to(suite.root.resolve()):
            raise SuiteBuildError(
                f"suite {suite.name!r} has a builder that writes its own datasets under {suite.root / 'data'}; "
                f"it never writes to a data directory you give ({path.parent}). Build it without --data-dir (and "
                "without data_dir in the suite file); to run on your own data with the built models, pass "
                "--data-dir to `aarlab w2s run` / `compare` instead")


@contextmanager
def build_lock(suite: Suite, log: Log) -> Iterator[bool]:
    """Hold the suite's build lock; yields whether another build held it first (and has now finished)."""
    suite.root.mkdir(parents=True, exist_ok=True)
    path = suite.root / LOCK_FILE
    with open(path, "a+") as handle:  # "a+": opening never truncates the pid the holder wrote
        waited = False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            log(f"waiting for the build of suite {suite.name} running in pid {holder} (lock {path}) ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
            waited = True
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield waited
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _report(suite: Suite) -> dict[str, Any]:
    path = suite.root / "build_report.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def build_suite(suite: Suite, progress: Progress, *, force: bool = False, workers: int = 2,
                log: Log = lambda _m: None) -> dict[str, Any]:
    """Build a suite (no-op if already built and not ``force``) under its build lock; returns the build report.

    ``log`` receives one-line notes: the wait for a build running in another process, the time and size estimate
    before a long conversion or extraction. A build that waited for another one uses its result, even with
    ``force``. A suite with a builder is refused when its datasets would be read from outside its home.
    """
    if is_built(suite) and not force:
        return _report(suite)
    refuse_user_data_dir(suite)
    check_inputs(suite, built=False, error=SuiteBuildError)  # a missing model or file fails now, not mid-build
    with build_lock(suite, log) as waited:
        if is_built(suite) and (waited or not force):
            if waited:
                log(f"suite {suite.name} was built by the other process; using its result")
            return _report(suite)
        return _build(suite, progress, workers=workers, log=log)


def _build(suite: Suite, progress: Progress, *, workers: int, log: Log) -> dict[str, Any]:
    """Build the suite (the caller holds the build lock), drawing another world when a check refuses one.

    A builder that draws its world from a build secret (it exposes ``discard_world(suite)``) is given another draw
    when a check refuses the world of a secret a build drew (this one, or one before whose refusal the last report
    records): the secret and everything made from it are discarded and the build starts over, at most
    :data:`MAX_WORLDS` worlds. A secret placed before any build drew it (one copied to reproduce a suite) or that
    passed before (a rebuild) is never discarded: a refusal on it fails the build.
    Each refusal is written to ``build_report.json`` when it happens (``refused`` and ``refused_worlds``, with what
    the failing stage had measured), so a build that ends refused can still be read.
    """
    builder = None if suite.spec.builder is None else importlib.import_module(BUILDERS[suite.spec.builder])
    discard_world = getattr(builder, "discard_world", None)
    refused: list[dict[str, Any]] = []
    if discard_world is not None:
        fingerprint = _secret_fingerprint(suite)
        earlier = _refused_worlds(suite)
        if fingerprint is not None and any(r.get("secret_fingerprint") == fingerprint and r.get("drawn_by_build")
                                           for r in earlier):
            log(f"suite {suite.name}: a build before refused the world of the build secret it drew; drawing another")
            discard_world(suite)
            refused = earlier  # the history goes on in this build's report
    drawn = _secret_fingerprint(suite) is None  # the builder draws the secret of the world it builds now
    redraws = MAX_WORLDS - 1 if discard_world is not None and drawn else 0
    while True:
        start = time.perf_counter()
        report: dict[str, Any] = {"suite": suite.name, "version": suite_version(suite), "refused_worlds": refused}
        try:
            return _build_world(suite, builder, report, progress, workers=workers, log=log)
        except SuiteBuildError as err:
            refused.append({"world": len(refused) + 1, "secret_fingerprint": _secret_fingerprint(suite),
                            "drawn_by_build": drawn, "refused": str(err),
                            "seconds": round(time.perf_counter() - start, 1)})
            report["refused"] = str(err)
            _write_report(suite, report)
            if redraws == 0 or discard_world is None:
                raise
            redraws -= 1
            log(f"suite {suite.name}: world {len(refused)} refused ({err}); drawing another world with a new "
                f"build secret ({redraws} more allowed after it)")
            discard_world(suite)
            drawn = True


def _secret_fingerprint(suite: Suite) -> str | None:
    from aarlab.suites._secret import read_build_secret, secret_fingerprint

    secret = read_build_secret(suite.root)
    return None if secret is None else secret_fingerprint(secret)


def _refused_worlds(suite: Suite) -> list[dict[str, Any]]:
    """The refused worlds the last build report lists (none when there is no readable report)."""
    try:
        refused = _report(suite).get("refused_worlds")
    except (OSError, ValueError, AttributeError):
        return []
    return [r for r in refused if isinstance(r, dict)] if isinstance(refused, list) else []


def _write_report(suite: Suite, report: dict[str, Any]) -> None:
    tmp = suite.root / f".build_report.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, suite.root / "build_report.json")


def _build_world(suite: Suite, builder: Any, report: dict[str, Any], progress: Progress, *, workers: int,
                 log: Log) -> dict[str, Any]:
    """Run the builder, the baselines and the build's checks on one world, filling ``report`` as they finish.

    ``baselines.json`` -- what makes a suite built -- is removed first and written last, after the shortcut report
    has passed: a build that fails a check or is killed at any point leaves a suite the next command rebuilds,
    never one that looks built without having passed every check. A refusing stage's measurements go into
    ``report`` (the builder's under ``builder``, the baselines under ``vanilla``).
    """
    (suite.root / "baselines.json").unlink(missing_ok=True)
    start = time.perf_counter()
    if builder is not None:
        try:
            report["builder"] = builder.build(suite, progress, workers, log)
        except SuiteBuildError as err:
            report["builder"] = err.report
            raise
    t0 = time.perf_counter()
    try:
        report["vanilla"] = compute_baselines(suite, progress, workers=workers)
    except SuiteBuildError as err:
        report["vanilla"] = err.report
        raise
    timings = {"baselines": time.perf_counter() - t0}
    after_baselines = getattr(builder, "after_baselines", None)
    if after_baselines is not None:  # tiny: the ceiling gate (vanilla PGR >= 1: strong_acc is not yet a ceiling)
        t0 = time.perf_counter()
        after_baselines(suite, report, progress, lambda: compute_baselines(suite, progress, workers=workers))
        timings["after_baselines"] = time.perf_counter() - t0
    report["bar_problems"] = pgr_bar_problems(report["vanilla"], suite.spec.experimental)
    if getattr(builder, "REFUSES_OUTSIDE_BAR", False):
        refuse_outside_bar(suite, report["vanilla"])
    for problem in report["bar_problems"]:
        log(f"warning: outside the acceptance bar (0 < vanilla PGR < 1, means and every seed): {problem}")
    t0 = time.perf_counter()
    refuse_shortcuts(suite, report, progress)
    report["timings_s"] = {**timings, "shortcuts": time.perf_counter() - t0, "total": time.perf_counter() - start}
    _write_report(suite, report)
    write_baselines(suite, report["vanilla"])
    return report


def refuse_outside_bar(suite: Suite, results: dict[str, dict[str, Any]]) -> None:
    """Refuse (:class:`SuiteBuildError`) a dataset held to the bar whose vanilla PGR of the seed means is outside
    (0, 1), or on which the scoring service would flag every submission ``gap-too-small`` (``_scorable.py``)."""
    from aarlab.suites._scorable import unscorable

    outside = mean_bar_problems(results, suite.spec.experimental)
    if outside:
        raise SuiteBuildError("the vanilla PGR of the seed means is outside the acceptance bar (0 < PGR < 1) after "
                              "every gate: " + "; ".join(outside) + " (a vanilla student at its ceiling leaves no "
                              "room above vanilla; one below its teacher, nothing to recover)")
    flagged = unscorable(suite, results, suite.spec.experimental)
    if flagged:
        raise SuiteBuildError("the scoring service would flag every submission gap-too-small on: "
                              + "; ".join(flagged))


def refuse_shortcuts(suite: Suite, report: dict[str, Any], progress: Progress) -> None:
    """Add the label-free shortcut report to ``report``; refuse (no baselines) a dataset a shortcut solves.

    The question-blind probe runs for the tiny builder only (seconds there; minutes of features on ``cpu``).
    """
    from aarlab.suites._shortcut_report import shortcut_problems, shortcut_report

    progress("shortcut report", 0, 1)
    weak = {d: r["weak_acc"] for d, r in report["vanilla"].items()}
    known = (report.get("builder") or {}).get("shortcuts", {})
    seeds = suite.spec.baseline_seeds if suite.spec.builder == "tiny" else []
    report["shortcuts"] = shortcut_report(suite, weak, known, blind_probe_seeds=seeds)
    progress("shortcut report", 1, 1)
    problems = shortcut_problems(report["shortcuts"], suite.spec.experimental)
    if problems:
        raise SuiteBuildError("a method could match the weak teacher without its labels: " + "; ".join(problems)
                              + f". Change the builder (weaker planted cue, balanced candidates) or mark the dataset "
                              f"experimental; the numbers are in {suite.root / 'build_report.json'}")
