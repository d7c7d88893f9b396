"""Checks before the long work: every model and dataset file a suite needs, and a gap its stored baselines deny.

``aarlab w2s run`` / ``compare`` / ``readings``, ``aarlab suites build``, campaign builds and ``aarlab promote`` call
these before training anything, so a missing model or file fails in seconds with one message naming it, not after
minutes of teacher training. What a suite's builder writes itself (``built:`` models, its datasets) is checked only
once the suite is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aarlab.suites._spec import Suite, SuiteError


def input_problems(suite: Suite, datasets: Iterable[str] | None = None, *, built: bool | None = None) -> list[str]:
    """One line per model reference or dataset split file of ``suite`` that is not available now.

    ``datasets`` defaults to all of the suite's; ``built`` (default: :func:`is_built`) says whether what the builder
    writes must exist already.
    """
    from aarlab.suites._build import is_built
    from aarlab.w2s.data import SPLITS
    from aarlab.w2s.models import model_problem

    built = is_built(suite) if built is None else built
    problems: list[str] = []
    for role in ("weak", "strong"):
        ref = getattr(suite.spec, role)
        if ref.model.startswith("built:") and suite.spec.builder is not None and not built:
            continue  # the build writes it
        problem = model_problem(suite.model_path(ref))
        if problem is not None:
            problems.append(f"{role} model ({ref.model}): {problem}")
    if suite.spec.builder is not None and suite.spec.data_dir is None and not built:
        return problems  # the build writes the datasets
    for dataset in datasets if datasets is not None else suite.spec.datasets:
        try:
            directory = suite.data_path(dataset)
        except SuiteError as err:
            problems.append(str(err))
            continue
        missing = [f"{split}.jsonl" for split in SPLITS if not (directory / f"{split}.jsonl").is_file()]
        if missing:
            problems.append(f"dataset {dataset!r}: {directory} has no {', '.join(missing)}")
    return problems


def check_inputs(suite: Suite, datasets: Iterable[str] | None = None, *, built: bool | None = None,
                 error: type[Exception] = SuiteError) -> None:
    """Raise ``error`` naming every unavailable model and dataset file (see :func:`input_problems`)."""
    problems = input_problems(suite, datasets, built=built)
    if problems:
        raise error(f"suite {suite.name!r} cannot start, nothing was trained: " + "; ".join(problems))


def check_stored_gap(run_suite: Suite, home_suite: Suite, dataset: str, lane: str | None) -> None:
    """Raise :class:`SuiteError` when the suite's stored baselines show no weak-to-strong gap on ``dataset``.

    The baselines apply only to the data and lane they were measured on: the built suite's (``home_suite``) default
    lane, on the data directory ``run_suite`` reads. Otherwise (or unbuilt) nothing is refused.
    """
    from aarlab.suites._build import is_built
    from aarlab.suites._ground_truth import read_baselines
    from aarlab.w2s.metrics import DegenerateGapError, pgr

    if (lane is not None and lane != home_suite.spec.lane) or not is_built(home_suite):
        return
    baselines = read_baselines(home_suite.home, home_suite.name)
    measured_on = home_suite.root / "data" if baselines.data_dir is None else Path(baselines.data_dir)
    if run_suite.data_path(dataset).parent.resolve() != measured_on.resolve():
        return  # other data: the stored numbers say nothing about it
    found = baselines.datasets.get(dataset)
    if found is None:
        return
    try:
        pgr(found.weak_acc, found.strong_acc, found.weak_acc)
    except DegenerateGapError:
        raise SuiteError(
            f"dataset {dataset!r} of suite {home_suite.name!r} has no weak-to-strong gap in its stored baselines "
            f"(strong_acc {found.strong_acc:.3f} vs weak_acc {found.weak_acc:.3f} over seeds {found.seeds}, "
            f"{home_suite.root / 'baselines.json'}): PGR would be undefined after training, so nothing was trained. "
            f"Pick another dataset, or `aarlab w2s compare --dataset {dataset}` to record the accuracies without a PGR"
        ) from None
