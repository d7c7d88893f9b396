"""Command ``aarlab promote``: promote a submission by a clean re-run of its method snapshot (or run the queue)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def resolve_state(state: Path, home: Path | None, suite: str | None) -> tuple[Path, Path, str]:
    """(server state dir, aarlab home, suite ref) from a server state dir or a campaign state dir."""
    from aarlab.campaign._setup import server_dir
    from aarlab.campaign._state import load_campaign
    from aarlab.home import resolve_home
    from aarlab.server._state import StateInfo

    server = state
    if (state / "campaign.json").is_file() and (server_dir(state) / "state.json").is_file():
        server = server_dir(state)
        home = home or Path(load_campaign(state).home)
    facts = server / "state.json"
    if not facts.is_file():
        raise ValueError(f"{state} is neither a scoring state dir (no state.json) nor a campaign state dir (no "
                         "campaign.json with server/state.json); pass the --state of `aarlab server start` or of "
                         "`aarlab campaign run`")
    recorded = StateInfo.model_validate_json(facts.read_text()).suite
    return server, resolve_home(home), suite or recorded


def _print(result_json: dict) -> None:
    from rich.table import Table

    r = result_json
    title = f"promotion {r['id']}: {r['status']} ({r['agent']}, {r['method']} on {r['dataset']})"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("snapshot", f"{r['snapshot_id'][:16]} ({r['method_in_snapshot']})")
    table.add_row("lane / fresh seeds", f"{r['lane']} / {r['seeds']}")
    if r["status"] != "promoted":
        table.add_row("reason", str(r["reason"]))
    else:
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        table.add_row("public PGR (agent's run)", fmt(r["public_pgr"]))
        table.add_row("private PGR (re-run)", f"{fmt(r['private_pgr'])} (acc {fmt(r['private_transfer_acc'])}; "
                      f"weak {fmt(r['weak_acc'])}, strong {fmt(r['strong_acc'])})")
        p = r["paired"]
        table.add_row("vs vanilla (acc diff)", f"{p['mean_diff']:+.3f} [{p['ci'][0]:+.3f}, {p['ci'][1]:+.3f}], "
                      f"p = {p['p_value']:.3g}; per seed {', '.join(f'{d:+.3f}' for d in p['per_seed_diff'])}")
        for name, c in r.get("versus", {}).items():
            if name != "vanilla":  # vanilla's row is above
                table.add_row(f"vs {name} (acc diff)", f"{c['mean_diff']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}]"
                              f", p = {c['p_value']:.3g}; {name}'s private PGR {fmt(c['baseline_private_pgr'])}")
        if r.get("beats_every_baseline") is not None:
            table.add_row("beats every baseline compared", _beats_line(r))
        a = r["ablation"]
        table.add_row("shuffled weak labels", f"acc {a['shuffled_acc']:.3f} vs {a['method_acc']:.3f} (zero-shot "
                      f"{a['zero_shot_acc']:.3f}; gain kept {fmt(a['retained'])})")
        for name, h in r["held_out"].items():
            table.add_row(f"held out: {name}", h["error"] or f"PGR {fmt(h['pgr'])} (acc {fmt(h['transfer_acc'])})")
        table.add_row("held-out / in-domain", fmt(r["held_out_ratio"]))
        table.add_row("flags", ", ".join(r["flags"]) or "none")
    table.add_row("duration", f"{r['duration_s']} s")
    out.print(table)


def _beats_line(r: dict) -> str:
    """``yes`` or ``no``, and the paired difference with the closest baseline (the smallest mean difference)."""
    worst = min(r["versus"].values(), key=lambda c: c["mean_diff"])
    verdict = "yes" if r["beats_every_baseline"] else "no"
    return (f"{verdict} ({len(r['versus'])} baselines, paired 95% CI above 0 needed; closest: {worst['baseline']} "
            f"{worst['mean_diff']:+.3f} [{worst['ci'][0]:+.3f}, {worst['ci'][1]:+.3f}])")


def against_names(values: list[str]) -> list[str]:
    """``--against`` values with ``all`` expanded; :class:`ValueError` names an unknown baseline."""
    from aarlab.campaign._promote import teacher_baselines

    known = teacher_baselines()
    names = [n for v in values for n in (known if v == "all" else [v])]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"--against: unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(known)} "
                         "or all")
    return list(dict.fromkeys(names))


def promote_command(
    state: Annotated[Path, typer.Option("--state", help="Scoring state dir, or a campaign state dir")],
    submission_id: Annotated[str | None, typer.Argument(help="The submission to promote (its id from the receipt "
                                                              "or the leaderboard); omit with --queued")] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=3, help="Fresh seeds the platform draws (at least 3)")] = 3,
    lane: Annotated[str | None, typer.Option("--lane", help="probe (heads on frozen features) or finetune; "
                                                            "default: the suite's lane")] = None,
    home: Annotated[Path | None, typer.Option("--home", help="aarlab home holding the built suite")] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="Suite name or .toml (default: the state's)")] = None,
    held_out: Annotated[bool, typer.Option("--held-out/--no-held-out", help="Also run on the other datasets")] =
        True,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Wall seconds per sandbox run")] = 1800.0,
    queued: Annotated[bool, typer.Option("--queued", help="Run every queued promotion request instead")] = False,
    against: Annotated[list[str] | None, typer.Option(
        "--against", help="Also compare (paired, same fresh seeds) with this literature baseline; repeat, or `all` "
                          "for every one that learns from the teacher")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result(s) as JSON on stdout")] = False,
) -> None:
    """Promote a submission by a clean re-run: its method snapshot in a fresh sandbox with fresh seeds, scored on the
    private split against vanilla (paired CI, p-value), with shuffled weak labels, and on the other datasets.
    With --against, also against other literature baselines, and says whether it beats every one of them.

    The result is recorded in the scoring database (promotions table) and the audit chain. Exit 0 when promoted,
    1 when the re-run failed (recorded as failed), 2 for bad input (nothing recorded).

    Example: aarlab promote 6f1c...e2 --state runs/c1 --seeds 3 --json
    Example: aarlab promote --queued --state runs/c1 --against all
    """
    from aarlab.campaign._promote import PromotionError, PromotionOptions, promote
    from aarlab.campaign._promote_queue import queued_requests, refuse_request
    from aarlab.campaign._state import CampaignError
    from aarlab.suites import SuiteError, load_suite
    from aarlab.suites._preflight import check_inputs

    if lane not in (None, "probe", "finetune"):
        raise _fail(f"--lane must be probe or finetune; found {lane!r}")
    if (submission_id is None) == (not queued):
        raise _fail("give a SUBMISSION_ID, or --queued to run the promotion queue (not both)")
    try:
        server, home_dir, suite_ref = resolve_state(state.expanduser().resolve(), home, suite)
        loaded = load_suite(suite_ref, home_dir)
        check_inputs(loaded)  # every model and data file of the re-runs, before any training
        ids = queued_requests(server) if queued else [submission_id or ""]
        compared = against_names(against or [])
    except (ValueError, SuiteError, PromotionError, CampaignError) as e:
        raise _fail(str(e)) from None
    options = PromotionOptions(seeds=seeds, lane=lane, timeout_s=timeout, held_out=held_out, against=compared)
    results, code = [], 0
    for sid in ids:
        try:
            result = promote(server, sid, suite=loaded, suite_ref=suite_ref, options=options,
                             log=lambda m: err.print(f"[dim]{m}[/]", highlight=False))
        except PromotionError as e:
            if not queued:
                raise _fail(str(e)) from None
            refuse_request(server, sid)
            err.print(f"[bold red]error:[/] {e}", highlight=False)
            code = 1
            continue
        data = result.model_dump(mode="json")
        results.append(data)
        if result.status != "promoted":
            code = max(code, 1)
        if not as_json:
            _print(data)
    if as_json:
        print(json.dumps(results if queued else results[0], indent=2))
    if queued and not ids:
        err.print("no queued promotion requests")
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Attach ``promote`` to the root ``aarlab`` app."""
    app.command("promote")(promote_command)
