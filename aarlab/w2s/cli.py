"""Commands ``aarlab w2s ...``, ``aarlab data ...`` and ``aarlab suites ...``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from aarlab.suites._progress import StageBars

if TYPE_CHECKING:
    from rich.progress import Progress

    from aarlab.suites import Suite

w2s_app = typer.Typer(help="Run weak-to-strong experiments and manage methods.", no_args_is_help=True)
data_app = typer.Typer(help="Export datasets (agent-visible copies without labels).", no_args_is_help=True)
suites_app = typer.Typer(help="List, inspect and build suites.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="aarlab home (default $AARLAB_HOME or ~/.cache/aarlab)")]
SuiteOpt = Annotated[str, typer.Option("--suite", help="Suite name (see `aarlab suites list`) or a .toml path")]
DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset of the suite, e.g. math, code, chat")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Read datasets from DIR/<dataset>/ (reference JSONL; e.g. paper). "
                              "DIR is only read: a suite with a builder (tiny, cpu) is built in its home and runs "
                              "its built models on your data; `suites build` refuses --data-dir for such a suite")
]
LaneOpt = Annotated[
    str | None, typer.Option("--lane", help="finetune (train the strong model) or probe (heads on frozen features); "
                                            "default: the suite's")
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Attach these command groups to the root ``aarlab`` app."""
    app.add_typer(w2s_app, name="w2s")
    app.add_typer(data_app, name="data")
    app.add_typer(suites_app, name="suites")


@contextmanager
def _progress() -> Iterator[Progress]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not sys.stderr.isatty()) as progress:
        yield progress


def _suite(name: str, home: Path | None, build: bool = True, data_dir: Path | None = None,
           need_data: bool = True, dataset: str | None = None, datasets: list[str] | None = None,
           check: bool = True, gap_lane: str | None = None) -> Suite:
    """Load a suite (optionally reading its datasets from ``data_dir``), check ``dataset`` (or ``datasets``) belongs
    to it and, when ``build`` and ``check``, that every model and data file a run needs is there; then build it if
    it has a builder (so a wrong name or a missing model fails at once, not after a build or minutes of training).

    With ``gap_lane`` (the run's lane; "" for the suite's), ``dataset`` is refused when the suite's stored baselines
    show no weak-to-strong gap on it. The build is of the suite as its home holds it, never against ``data_dir``: a
    builder writes only under the home, and a home built once counts as built whatever ``--data-dir`` says."""
    from aarlab.home import resolve_home
    from aarlab.suites import SuiteBuildError, SuiteError, build_suite, is_built, load_suite
    from aarlab.suites._preflight import check_inputs, check_stored_gap

    try:
        suite = load_suite(name, resolve_home(home))
        home_suite = suite
        if data_dir is not None:
            suite = suite.with_data_dir(data_dir)
        elif need_data and suite.spec.builder is None and suite.spec.data_dir is None:
            suite.data_path(suite.spec.datasets[0])  # raises the "pass --data-dir" error
        wanted = [dataset] if dataset is not None else datasets
        for d in wanted or []:
            suite.check_dataset(d)
    except SuiteError as e:
        raise fail(str(e)) from None
    try:
        if build and check:
            check_inputs(suite, wanted, built=is_built(home_suite))
    except SuiteError as e:
        raise fail(str(e), 1) from None
    if build and home_suite.spec.builder is not None and not is_built(home_suite):
        err.print(f"building suite [bold]{suite.name}[/] once (cached under {suite.root}) ...")
        from aarlab.suites._progress import build_progress

        try:
            with build_progress(err) as (progress, log):
                build_suite(home_suite, progress, log=log)
        except SuiteBuildError as e:
            raise fail(str(e), 1) from None
    if gap_lane is not None and dataset is not None:
        try:
            check_stored_gap(suite, home_suite, dataset, gap_lane or None)
        except SuiteError as e:
            raise fail(str(e), 1) from None
    return suite


def _check_lane(lane: str | None) -> None:
    from aarlab.suites._spec import LANES

    if lane is not None and lane not in LANES:
        raise fail(f"unknown lane {lane!r}; valid: {', '.join(LANES)}")


@w2s_app.command("methods")
def methods_cmd() -> None:
    """List the built-in methods: one line each, name and description."""
    from aarlab.w2s.methods import builtin_methods

    for name, m in builtin_methods().items():
        typer.echo(f"{name:<10} {m.description}")


@w2s_app.command("new-method")
def new_method_cmd(
    name: Annotated[str, typer.Argument(help="Method name (a Python identifier), e.g. my_filter")],
    directory: Annotated[Path, typer.Option("--dir", help="Where to write NAME.py")] = Path("."),
) -> None:
    """Write a template method file NAME.py that runs as is (`aarlab w2s run --method NAME.py`)."""
    from aarlab.w2s.methods._template import TEMPLATE

    if not name.isidentifier():
        raise fail(f"method name {name!r} must be a Python identifier (letters, digits, _)")
    path = directory / f"{name}.py"
    if path.exists():
        raise fail(f"{path} already exists; choose another name or delete it", 1)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(name=name))
    typer.echo(str(path))


def _result_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"{result['suite']}/{result['dataset']} · {result['method']} · {result['lane']} lane")
    for col in ("seed", "weak_acc", "strong_acc", "transfer_acc", "PGR"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in result["seeds"]:
        table.add_row(str(row["seed"]), f"{row['weak_acc']:.3f}", f"{row['strong_acc']:.3f}",
                      f"{row['transfer_acc']:.3f}", "n/a" if row["pgr"] is None else f"{row['pgr']:.2f}")
    low, high = result["pgr_ci"]
    table.add_row("mean", f"{result['weak_acc']:.3f}", f"{result['strong_acc']:.3f}",
                  f"{result['transfer_acc']:.3f}", f"{result['pgr']:.2f} [{low:.2f}, {high:.2f}]", style="bold")
    return table


@w2s_app.command("run")
def run_cmd(
    suite_name: SuiteOpt = "tiny",
    dataset: DatasetOpt = "math",
    method_name: Annotated[
        str, typer.Option("--method", help="Built-in method (`aarlab w2s methods`) or a .py file")
    ] = "vanilla",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Number of seeds (0..N-1)")] = 3,
    first_seed: Annotated[int, typer.Option("--first-seed", help="First seed")] = 0,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the result JSON here")] = None,
    predictions_path: Annotated[Path | None, typer.Option(
        "--predictions", help="Write the first seed's test predictions here as JSONL {id, p} (for `aarlab submit`)")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="torch device (default: cuda if available)")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute weak teacher and ceiling")] = False,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="torch CPU threads (default: $AARLAB_THREADS, else the free cores: CPU "
        "affinity and cgroup quota, less the cores other processes keep busy)")] = None,
    lane: LaneOpt = None,
    data_dir: DataDirOpt = None,
    home: HomeOpt = None,
    weak_labels: Annotated[str, typer.Option(
        "--weak-labels", help="teacher, or shuffled: the teacher's soft labels permuted over the examples (same "
        "class balance; the label-dependence control of `aarlab promote`)")] = "teacher",
) -> None:
    """Run one method on one dataset for several seeds; print a table, optionally write JSON.

    Example: aarlab w2s run --suite cpu --dataset chat --method vanilla --lane probe --seeds 3 --out result.json
    """
    from aarlab.w2s.methods import MethodError, resolve_method

    try:
        method = resolve_method(method_name)
    except MethodError as e:
        raise fail(str(e)) from None
    _check_lane(lane)
    if weak_labels not in ("teacher", "shuffled"):
        raise fail(f"--weak-labels must be teacher or shuffled; found {weak_labels!r}")
    suite = _suite(suite_name, home, data_dir=data_dir, dataset=dataset, gap_lane=lane or "")

    from aarlab._threads import pick_threads, use_threads
    from aarlab.w2s.cache import ArtifactCache
    from aarlab.w2s.data import DatasetError
    from aarlab.w2s.metrics import DegenerateGapError
    from aarlab.w2s.models import ModelLoadError
    from aarlab.w2s.pipeline import Experiment, default_cache

    try:
        use_threads(pick_threads(explicit=threads))
    except ValueError as e:  # a malformed $AARLAB_THREADS
        raise fail(str(e)) from None
    try:
        with _progress() as progress:
            cache = ArtifactCache(None) if no_cache else default_cache(suite)
            experiment = Experiment(suite, dataset, cache, device=device, report=StageBars(progress), lane=lane)
            result = experiment.run(method, list(range(first_seed, first_seed + seeds)),
                                    log=lambda m: err.print(f"[dim]{method.name}: {m}[/]"), weak_labels=weak_labels)
    except (ModelLoadError, DegenerateGapError, MethodError, DatasetError) as e:
        raise fail(str(e), 1) from None
    data = result.as_dict()
    out.print(_result_table(data))
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(data, indent=2))
        err.print(f"wrote {out_path}")
    if predictions_path is not None:
        from aarlab.w2s.data import write_jsonl

        probs = result.test_predictions[first_seed]
        write_jsonl(predictions_path, [{"id": i, "p": p} for i, p in probs.items()])
        err.print(f"wrote {predictions_path} (seed {first_seed}; submit with `aarlab submit`)")


@w2s_app.command("compare")
def compare_cmd(
    suite_name: SuiteOpt = "tiny",
    method_names: Annotated[
        list[str] | None, typer.Option("--method", help="Method to include (repeat); default all")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Number of seeds (0..N-1)")] = 3,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the Markdown report here")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Datasets run in parallel (processes)")] = 2,
    lanes: Annotated[
        list[str] | None, typer.Option("--lane", help="Lane to run (repeat for both: --lane probe --lane finetune); "
                                                      "default: the suite's")
    ] = None,
    dataset_names: Annotated[
        list[str] | None, typer.Option("--dataset", help="Dataset to run (repeat); default all of the suite's")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Merge raw results into this JSON file (a rerun of a cell replaces "
                                                 "it); the Markdown then covers every cell in the file")
    ] = None,
    notes_path: Annotated[
        Path | None, typer.Option("--notes", help="Hand-written Markdown appended to the report as notes")
    ] = None,
    render_only: Annotated[
        bool, typer.Option("--render-only", help="Run nothing: render --out from the cells already in --json")
    ] = False,
    data_dir: DataDirOpt = None,
    home: HomeOpt = None,
) -> None:
    """Compare methods on every dataset of a suite (the offline demo); print a table, optionally write Markdown.

    Example: aarlab w2s compare --suite cpu --lane probe --seeds 3 --out docs/results/cpu.md

    Expensive lanes cell by cell: aarlab w2s compare --suite cpu --lane finetune --dataset chat --method vanilla
    --json docs/results/cpu.json --out docs/results/cpu.md (each run merges its cells into the JSON file).
    """
    from aarlab.w2s._compare import compare_methods, markdown_table, merge_results, read_question_blind
    from aarlab.w2s.methods import MethodError, builtin_methods, resolve_method

    names = method_names or list(builtin_methods())
    try:
        for name in names:
            resolve_method(name)
    except MethodError as e:
        raise fail(str(e)) from None
    for lane in lanes or []:
        _check_lane(lane)
    suite = _suite(suite_name, home, data_dir=data_dir, datasets=dataset_names, check=not render_only)
    if render_only and (json_path is None or out_path is None):
        raise fail("--render-only renders --out from the cells in --json: give both")
    lane_list = lanes or [suite.spec.lane]
    seed_list = list(range(seeds))
    table = Table(title=f"suite {suite.name}: PGR by method ({seeds} seeds)")
    for col in ("lane", "dataset", "method", "weak_acc", "strong_acc", "transfer_acc", "PGR [95% CI]"):
        table.add_column(col, justify="right", no_wrap=True)
    results: list[dict[str, Any]] = []
    datasets = dataset_names or suite.spec.datasets
    if json_path is not None and not render_only:
        try:
            merge_results(json_path, [])  # an unreadable results file fails now, not after hours of training
        except ValueError as e:
            raise fail(str(e)) from None
    with _progress() as progress:
        bar = progress.add_task("experiments", total=0 if render_only else len(names) * len(datasets) * len(lane_list))

        def keep(row: dict[str, Any]) -> None:  # each finished cell is saved at once: a crash later loses nothing
            progress.advance(bar)
            if json_path is not None:
                merge_results(json_path, [row])

        for lane in [] if render_only else lane_list:
            results += compare_methods(suite, names, seed_list, workers, on_done=keep, lane=lane, datasets=datasets)
    if json_path is not None:
        try:
            results = merge_results(json_path, results)
        except ValueError as e:
            raise fail(str(e)) from None
    for r in results:
        ci = r["pgr_ci"]
        pgr_text = "n/a (no gap)" if r["pgr"] is None else f"{r['pgr']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"
        table.add_row(r["lane"], r["dataset"], r["method"], f"{r['weak_acc']:.3f}", f"{r['strong_acc']:.3f}",
                      f"{r['transfer_acc']:.3f}", pgr_text)
    out.print(table)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        notes = notes_path.read_text() if notes_path is not None else None
        command = provenance = None
        if json_path is not None:
            command = (f"aarlab w2s compare --suite {suite.name} --seeds {seeds} --json {json_path}"
                       + (f" --notes {notes_path}" if notes_path else "") + " --render-only --out <this file>")
            provenance = "cells merged from the runs recorded in that JSON file; each lane says how many ran"
        out_path.write_text(markdown_table(suite, results, seed_list, read_question_blind(suite), notes, command,
                                           provenance))
        err.print(f"wrote {out_path}")


@w2s_app.command("readings")
def readings_cmd(
    layers: Annotated[list[int], typer.Option("--layer", help="Layer to read (repeat): 0 = embeddings, -1 = last")],
    suite_name: SuiteOpt = "tiny",
    dataset: DatasetOpt = "math",
    poolings: Annotated[
        list[str] | None, typer.Option("--pooling", help="last, mean or answer (repeat); default: the current one")
    ] = None,
    role: Annotated[str, typer.Option("--role", help="Which model's reading to vary: strong or weak")] = "strong",
    method_name: Annotated[
        str, typer.Option("--method", help="Built-in method (`aarlab w2s methods`) or a .py file")
    ] = "vanilla",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Number of seeds (0..N-1)")] = 3,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the comparison as Markdown here")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the raw results as JSON here")] = None,
    data_dir: DataDirOpt = None,
    home: HomeOpt = None,
) -> None:
    """Compare feature readings (layer x pooling) of a model on one dataset in the probe lane, with the
    question-blind probe on each reading; put the winner in the suite file (table readings.DATASET.ROLE).

    Example: aarlab w2s readings --suite cpu --dataset math --layer 6 --layer 9 --layer 12 --pooling last
    --pooling answer --out math_readings.md
    """
    from aarlab.suites import SuiteError
    from aarlab.w2s._readings import compare_readings, readings_markdown
    from aarlab.w2s.methods import MethodError, resolve_method

    try:
        resolve_method(method_name)
    except MethodError as e:
        raise fail(str(e)) from None
    valid_poolings = ("last", "mean", "answer")
    for pooling in poolings or []:
        if pooling not in valid_poolings:
            raise fail(f"unknown pooling {pooling!r}; valid: {', '.join(valid_poolings)}")
    if role not in ("weak", "strong"):
        raise fail(f"unknown role {role!r}; valid: strong, weak")
    suite = _suite(suite_name, home, data_dir=data_dir, dataset=dataset)
    seed_list = list(range(seeds))
    try:
        with _progress() as progress:
            results = compare_readings(suite, dataset, layers, poolings or [suite.spec.ref_for(role, dataset).pooling],
                                       seed_list, role=role, method=method_name, report=StageBars(progress))
    except SuiteError as e:
        raise fail(str(e)) from None
    table = Table(title=f"{suite.name}/{dataset} · {role} readings · {method_name} · probe lane ({seeds} seeds)")
    for col in ("layer", "pooling", "weak_acc", "strong_acc", "transfer_acc", "PGR [95% CI]", "answer-only"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        pgr = "n/a" if r.pgr is None else f"{r.pgr:.2f}" + ("" if r.pgr_ci is None else
                                                            f" [{r.pgr_ci[0]:.2f}, {r.pgr_ci[1]:.2f}]")
        table.add_row(str(r.layer), r.pooling, f"{r.weak_acc:.3f}", f"{r.strong_acc:.3f}", f"{r.transfer_acc:.3f}",
                      pgr, f"{r.answer_only_acc:.3f}")
    out.print(table)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps([r.as_dict() for r in results], indent=1) + "\n")
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(readings_markdown(suite, dataset, results, seed_list, method_name))
        err.print(f"wrote {out_path}")


@data_app.command("export")
def export_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the agent-visible files into")],
    suite_name: SuiteOpt = "tiny",
    dataset: DatasetOpt = "math",
    seed: Annotated[int, typer.Option("--seed", help="Weak teacher seed whose soft labels are exported")] = 0,
    lane: LaneOpt = None,
    data_dir: DataDirOpt = None,
    home: HomeOpt = None,
) -> None:
    """Write the agent-visible copy: train_unlabel.jsonl, test.jsonl (no labels), weak_soft_labels.jsonl."""
    _check_lane(lane)
    suite = _suite(suite_name, home, data_dir=data_dir, dataset=dataset)

    from aarlab.w2s.data import write_agent_visible
    from aarlab.w2s.pipeline import Experiment, default_cache

    with _progress() as progress:
        experiment = Experiment(suite, dataset, default_cache(suite), report=StageBars(progress), lane=lane)
        weak = experiment.weak_teacher(seed)
    for path in write_agent_visible(out_dir, experiment.dataset, weak["soft_labels"]):
        typer.echo(str(path))


@suites_app.command("list")
def suites_list_cmd(home: HomeOpt = None) -> None:
    """List built-in suites and whether each is built."""
    from aarlab.home import resolve_home
    from aarlab.suites import builtin_suite_names, is_built, load_suite

    for name in builtin_suite_names():
        suite = load_suite(name, resolve_home(home))
        state = "built" if is_built(suite) else "not built"
        typer.echo(f"{name:<8} {state:<10} {suite.spec.description}")


@suites_app.command("show")
def suites_show_cmd(
    name: Annotated[str, typer.Argument(help="Suite name or .toml path")], home: HomeOpt = None
) -> None:
    """Print a suite's resolved definition (and baselines, once built) as JSON."""
    from aarlab.suites import is_built, read_baselines
    from aarlab.w2s._compare import read_question_blind

    suite = _suite(name, home, build=False, need_data=False)
    data: dict[str, Any] = {"spec": suite.spec.model_dump(mode="json"), "root": str(suite.root)}
    if is_built(suite):
        data["baselines"] = read_baselines(suite.home, suite.name).model_dump()
        blind = read_question_blind(suite)
        if blind:
            data["question_blind"] = blind
    typer.echo(json.dumps(data, indent=2))


@suites_app.command("build")
def suites_build_cmd(
    name: Annotated[str, typer.Argument(help="Suite name or .toml path")],
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if already built")] = False,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="torch CPU threads, shared by the build's worker processes (default: "
        "$AARLAB_THREADS, else the free cores: CPU affinity and cgroup quota, less the busy ones)")] = None,
    data_dir: DataDirOpt = None,
    home: HomeOpt = None,
) -> None:
    """Build a suite's datasets, models and baselines (tiny: ~4 min on 2 idle cores; cpu: ~15-25 min, once)."""
    from aarlab.suites import SuiteBuildError, build_suite, is_built, suite_version

    suite = _suite(name, home, build=False, data_dir=data_dir)
    from aarlab._threads import pick_threads, use_threads

    try:  # the builder's worker processes divide this budget among them
        use_threads(pick_threads(explicit=threads))
    except ValueError as e:  # a malformed $AARLAB_THREADS
        raise fail(str(e)) from None
    from aarlab.suites._progress import build_progress

    if force or not is_built(suite):  # the estimate only when there is something to build
        if suite.spec.builder == "tiny":
            err.print("estimate: ~3 min pretraining on 2 idle cores (two processes; longer on busy cores) + ~1 min "
                      "baselines, + ~2 min when the ceiling gate adds a chunk; ~3 MB")
        elif suite.spec.builder == "cpu":
            err.print("estimate: ~2 min model conversion (1.1 GB) + ~10-20 min feature extraction on 2 cores; "
                      "~1.3 GB")
    try:
        with build_progress(err) as (progress, log):
            report = build_suite(suite, progress, force=force, log=log)
    except SuiteBuildError as e:
        raise fail(str(e), 1) from None
    table = Table(title=f"suite {suite.name} ({suite_version(suite)})")
    for col in ("dataset", "weak_acc", "strong_acc", "vanilla transfer", "vanilla PGR"):
        table.add_column(col, justify="right", no_wrap=True)
    for dataset, r in report.get("vanilla", {}).items():
        table.add_row(dataset, f"{r['weak_acc']:.3f}", f"{r['strong_acc']:.3f}", f"{r['transfer_acc']:.3f}",
                      f"{r['pgr']:.2f}")
    out.print(table)
    refused = report.get("refused_worlds") or []
    if refused:  # the build drew another world after a check refused one: say so once, with where to read why
        err.print(f"{len(refused)} world(s) refused before this one ({sum(r.get('seconds', 0) for r in refused):.0f}"
                  f" s): the reasons are in {suite.root / 'build_report.json'} under refused_worlds",
                  highlight=False, markup=False)
