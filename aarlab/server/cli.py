"""Commands ``aarlab server ...``, ``aarlab submit``, ``aarlab leaderboard`` and ``aarlab audit verify|export-head``.

FastAPI, SQLAlchemy and httpx are imported inside the commands, so ``aarlab --help`` stays fast.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from aarlab.server import Leaderboard

server_app = typer.Typer(help="Run and administer the scoring service (custody of ground truth).",
                         no_args_is_help=True)
audit_app = typer.Typer(help="Check the scoring service's audit chain.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)

StateOpt = Annotated[Path, typer.Option("--state", help="The server's state dir (ground truth, secrets, database)")]
SuiteOpt = Annotated[str, typer.Option("--suite", help="Built suite whose test splits are imported at "
                                        "initialization: a name or a .toml file, as for `aarlab w2s run`")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="aarlab home holding built suites "
                                               "(default $AARLAB_HOME or ~/.cache/aarlab)")]
DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL, e.g. postgresql+psycopg://u@host/db "
                                            "(default: SQLite in the state dir)")]
ServerOpt = Annotated[str, typer.Option("--server", envvar="AARLAB_SERVER",
                                        help="http://host:port or unix:///path/to.sock")]
TokenOpt = Annotated[str, typer.Option("--token", envvar="AARLAB_TOKEN", help="Your bearer token")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Attach ``server``, ``audit``, ``submit`` and ``leaderboard`` to the root ``aarlab`` app."""
    app.add_typer(server_app, name="server")
    app.add_typer(audit_app, name="audit")
    app.command("submit")(submit)
    app.command("leaderboard")(leaderboard)
    from aarlab.server import cli_forum

    cli_forum.register(app)


def _init(state: Path, suite: str, home: Path | None, db: str | None, public_fraction: float):  # noqa: ANN202
    from aarlab.server import StateError, init_state

    try:
        return init_state(state, suite=suite, home=home, db_url=db, public_fraction=public_fraction)
    except StateError as e:
        raise fail(str(e)) from None


FractionOpt = Annotated[float, typer.Option("--public-fraction", help="Share of each test set that is public "
                                            "(fixed at first start)")]


@server_app.command("init")
def init(state: StateOpt, suite: SuiteOpt = "tiny", home: HomeOpt = None, db: DbOpt = None,
         public_fraction: FractionOpt = 0.5) -> None:
    """Initialize a state dir without serving: import ground truth, fix baselines, create the admin token."""
    opened = _init(state, suite, home, db, public_fraction)
    opened.db.dispose()
    err.print(f"state dir {opened.path} holds suite {opened.info.suite!r}; admin token: "
              f"`aarlab server admin-token --state {opened.path}`", highlight=False)


StartSuiteOpt = Annotated[str | None, typer.Option("--suite", help="Built suite whose test splits are imported "
                                                  "at initialization (a name or a .toml file); default: the suite "
                                                  "the state dir holds, or tiny for a new one with --init")]


@server_app.command("start")
def start(
    state: StateOpt,
    suite: StartSuiteOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host", help="TCP address to listen on")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option("--port", help="TCP port (default 8765; with --uds alone, "
                                             "no TCP)")] = None,
    uds: Annotated[Path | None, typer.Option("--uds", help="Also (or only) serve on this Unix socket")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file of server settings (budgets, "
                                                "rate limits, body limit)")] = None,
    public_fraction: FractionOpt = 0.5,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes sharing the sockets and the "
                                         "database (rate limits then apply per process)")] = 1,
    campaign: Annotated[Path | None, typer.Option("--campaign", help="Campaign dir whose transcripts, costs and "
                                                  "notebooks the dashboard shows (default: the state dir's parent "
                                                  "if it holds a campaign.json)")] = None,
    init_new: Annotated[bool, typer.Option("--init", help="Initialize the state dir first if it is new (as "
                                           "`aarlab server init` does); without it a missing or uninitialized "
                                           "--state is refused")] = False,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Serve HTTPS on --port with this PEM "
                                                  "certificate chain (with --tls-key; not with --uds)")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="The PEM private key of --tls-cert")] = None,
) -> None:
    """Serve the scoring API and the dashboard of an initialized state dir (`aarlab server init`, or --init).

    Example: aarlab server start --state runs/c1/server --port 8765, then open http://127.0.0.1:8765/ and log in
    with `aarlab server admin-token --state runs/c1/server`.
    """
    from aarlab.server import SettingsError, StateError, initialized_suite, load_settings, serve

    try:
        settings = load_settings(config)
    except SettingsError as e:
        raise fail(str(e)) from None
    try:
        held = initialized_suite(state)
    except StateError as e:
        raise fail(str(e)) from None
    initialized, suite = held is not None, suite or held or "tiny"
    if not init_new and not initialized:  # a typo in --state must not create a campaign with a fresh secret split
        raise fail(f"--state {state}: not an initialized aarlab state dir. Initialize it with `aarlab server init "
                   f"--state {state} --suite {suite}` (or pass --init to start), or check the path")
    if (tls_cert is None) != (tls_key is None):
        raise fail("give --tls-cert and --tls-key together")
    opened = _init(state, suite, home, db, public_fraction)
    opened.db.dispose()
    if port is None and uds is None:
        port = 8765
    if campaign is not None and not (campaign / "campaign.json").is_file():
        raise fail(f"--campaign {campaign}: no campaign.json there; give the campaign state dir "
                   "(the one `aarlab campaign run --state` made)")
    try:
        serve(opened.path, settings, host=host, port=port, uds=uds.expanduser().resolve() if uds else None,
              workers=workers, campaign=campaign.expanduser().resolve() if campaign else None,
              tls=(tls_cert.expanduser().resolve(), tls_key.expanduser().resolve()) if tls_cert and tls_key else None)
    except StateError as e:
        raise fail(str(e)) from None


@server_app.command("add-agent")
def add_agent(
    name: Annotated[str, typer.Argument(help="Agent name (letters, digits, _ . -)")],
    state: StateOpt,
    budget: Annotated[int | None, typer.Option("--budget", min=0, help="Evaluations per dataset for this agent "
                                               "(default: the server's default_budget)")] = None,
) -> None:
    """Create an agent; prints its bearer token as the only line on stdout."""
    from aarlab.server import StateError
    from aarlab.server import add_agent as create

    try:
        token = create(state, name, budget)
    except StateError as e:
        raise fail(str(e)) from None
    print(token)


@server_app.command("admin-token")
def admin_token(state: StateOpt) -> None:
    """Print the admin bearer token of a state dir."""
    from aarlab.server import StateError, read_admin_token

    try:
        print(read_admin_token(state))
    except StateError as e:
        raise fail(str(e)) from None


@server_app.command("viewer-token")
def viewer_token(
    state: StateOpt,
    rotate: Annotated[bool, typer.Option("--rotate", help="Replace the token (ends sessions opened with the old "
                                         "one)")] = False,
) -> None:
    """Print the dashboard's read-only viewer token (created on first use): it can see pages but not act.

    Example: aarlab server viewer-token --state runs/c1/server
    """
    from aarlab.server import StateError, read_admin_token
    from aarlab.server.dashboard import viewer_token as token_of

    try:
        read_admin_token(state)  # the state dir must be initialized
    except StateError as e:
        raise fail(str(e)) from None
    print(token_of(state.expanduser().resolve(), rotate=rotate))


@server_app.command("finalize")
def finalize(state: StateOpt,
             as_json: Annotated[bool, typer.Option("--json", help="Print the final table as JSON")] = False) -> None:
    """End the campaign: reveal private scores, write <state>/final/leaderboard.json, close submissions."""
    from aarlab.server import StateError
    from aarlab.server import finalize as run

    try:
        table, path = run(state)
    except StateError as e:
        raise fail(str(e)) from None
    if as_json:
        print(table.model_dump_json(indent=2))
    else:
        _print_table(table)
        err.print(f"final table written to {path}", highlight=False)


AnchorOpt = Annotated[Path | None, typer.Option(
    "--anchor", help="A head file from `aarlab audit export-head`, kept outside the state dir: the chain must "
    "still hold every record it covers (catches a chain edited and re-hashed)")]


@audit_app.command("verify")
def verify(state: StateOpt, anchor: AnchorOpt = None) -> None:
    """Recompute the audit chain and re-derive every record from the rows it covers; report the first break (exit 1).

    Each table an agent or the admin changes (agents, submissions, budgets, posts, edits, tags, votes, snapshots
    and pushes, control actions and messages, the final table) is compared with the payload of the record that
    made it, so the message names the record, its action and the table, row and column that differ.
    """
    from aarlab.server import StateError, open_state, verify_chain

    head = _read_anchor(anchor) if anchor is not None else None
    try:
        opened = open_state(state)
    except StateError as e:
        raise fail(str(e)) from None
    try:
        report = verify_chain(opened.db, head)
    finally:
        opened.db.dispose()
    for note in report.notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    if not report.ok:
        where = f"record {report.first_broken} ({report.action})" if report.first_broken else "a row no record covers"
        raise fail(f"audit chain broken at {where}: {report.reason}", code=1)
    against = f", consistent with the anchor {anchor}" if anchor is not None else \
        " (no --anchor: a chain re-hashed in the database would also pass; see `aarlab audit export-head`)"
    out.print(f"audit chain intact: {report.records} records verified{against}", highlight=False, markup=False)


def _read_anchor(path: Path):  # noqa: ANN202 - AuditAnchor, imported lazily
    from pydantic import ValidationError

    from aarlab.server import AuditAnchor

    try:
        return AuditAnchor.model_validate_json(path.read_bytes())
    except OSError as e:
        raise fail(f"--anchor {path}: cannot read it ({e.strerror}); give the file `aarlab audit export-head` "
                   "wrote") from None
    except ValidationError as e:
        first = e.errors()[0]
        raise fail(f"--anchor {path}: not a head file from `aarlab audit export-head` "
                   f"({'.'.join(map(str, first['loc'])) or 'file'}: {first['msg']})") from None


@audit_app.command("export-head")
def export_head(state: StateOpt) -> None:
    """Print the chain head as JSON (keep it outside the state dir; later `audit verify --anchor` checks it)."""
    from aarlab.server import StateError, export_anchor, open_state

    try:
        opened = open_state(state)
    except StateError as e:
        raise fail(str(e)) from None
    try:
        anchor = export_anchor(opened.db)
    finally:
        opened.db.dispose()
    print(anchor.model_dump_json())
    err.print(f"head of {anchor.seq} records exported; store it where the database's writers cannot change it",
              highlight=False)


_PREDICTION_INDEX = re.compile(r"predictions\[(\d+)\]")


def submit(
    file: Annotated[Path, typer.Argument(help="JSONL predictions file, lines {\"id\": ..., \"p\": P(True/B)}")],
    server: ServerOpt,
    token: TokenOpt,
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset whose test split the file predicts")],
    method: Annotated[str, typer.Option("--method", help="Method name shown on the leaderboard")] = "default",
) -> None:
    """Submit test predictions for scoring; prints the stored evaluation's receipt as one JSON object."""
    from aarlab.client import PredictionsFileError, ScoringClient, ScoringError, read_predictions

    try:
        records, lines = read_predictions(file)
        with ScoringClient(server, token) as client:
            receipt = client.submit(dataset, records, method=method)
    except PredictionsFileError as e:
        raise fail(str(e)) from None
    except ScoringError as e:
        message = _PREDICTION_INDEX.sub(lambda m: _line_of(file, lines, int(m[1])), e.message)
        raise fail(f"the server refused the submission ({e.status}): {message}" if e.status else message) from None
    keys = ("id", "dataset", "public_transfer_acc", "public_pgr", "remaining_budget", "receipt")
    from rich.markup import escape

    flags = [f.model_dump() for f in receipt.flags]
    print(json.dumps({**{k: getattr(receipt, k) for k in keys}, "flags": flags}))
    for f in receipt.flags:
        err.print(f"[bold yellow]flag {escape(f.kind)}[/]: {escape(f.detail)}", highlight=False)


def _line_of(file: Path, lines: list[int], index: int) -> str:
    return f"{file}:{lines[index]}" if index < len(lines) else f"predictions[{index}]"


def leaderboard(
    server: ServerOpt,
    token: TokenOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print the leaderboard as JSON")] = False,
) -> None:
    """Show the best stored public score per agent and method (private scores after finalize)."""
    from aarlab.client import ScoringClient, ScoringError

    try:
        with ScoringClient(server, token) as client:
            board = client.leaderboard()
    except ScoringError as e:
        raise fail(e.message if not e.status else f"the server refused ({e.status}): {e.message}") from None
    if as_json:
        print(board.model_dump_json(indent=2))
    else:
        _print_table(board)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_table(board: Leaderboard) -> None:
    from rich.table import Table

    final = board.finalized_at is not None
    title = f"final leaderboard ({board.finalized_at})" if final else "leaderboard (public part, Ladder scores)"
    table = Table(title=title)
    for column in ("dataset", "agent", "method", "public acc", "public PGR", "evals"):
        table.add_column(column)
    if final:
        table.add_column("private acc")
        table.add_column("private PGR")
    promoted = any(r.promotion is not None for r in board.rows)  # `aarlab promote` re-runs (docs/promotion.md)
    if promoted:
        for column in ("promoted private PGR", "held-out PGR", "promotion"):
            table.add_column(column)
    table.add_column("flags")
    for r in board.rows:
        cells = [r.dataset, r.agent, r.method, _fmt(r.public_transfer_acc), _fmt(r.public_pgr), str(r.evaluations)]
        if final:
            cells += [f"{r.private_transfer_acc:.4f}" if r.private_transfer_acc is not None else "-",
                      f"{r.private_pgr:.3f}" if r.private_pgr is not None else "-"]
        if promoted:
            cells += [_fmt(r.promoted_private_pgr), _fmt(r.held_out_pgr),
                      "; ".join([r.promotion or "-", *r.promotion_flags])]
        cells.append(", ".join(f.kind for f in r.flags) or "-")
        table.add_row(*cells)
    out.print(table)
