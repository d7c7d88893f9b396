"""Commands ``aarlab campaign run|resume|status``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from rich.table import Table

    from aarlab.campaign._status import CampaignStatus

campaign_app = typer.Typer(help="Run research campaigns: N agents in sandboxes against one scoring service.",
                           no_args_is_help=True)
out = Console()
err = Console(stderr=True)

StateOpt = Annotated[Path, typer.Option("--state", help="Campaign state dir (server state, agents, logs)")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Attach ``campaign`` to the root ``aarlab`` app."""
    from aarlab.campaign import cli_report  # noqa: F401  (adds `campaign report` to campaign_app)

    app.add_typer(campaign_app, name="campaign")


def _table(status: CampaignStatus, time_left_s: float | None = None) -> Table:
    from rich.table import Table

    title = f"best public PGR: {status.best_public_pgr}"
    if time_left_s is not None:
        title += f"   time left: {max(0, int(time_left_s))} s"
    table = Table(title=title)
    final = status.finalized_at is not None
    for column in ("agent", "direction", "state", "best public PGR", "submissions", "cost $",
                   *(("private PGR (final)",) if final else ())):
        table.add_column(column, no_wrap=column != "direction")
    for a in status.agents:
        private = ", ".join(f"{f.dataset} {'-' if f.private_pgr is None else f'{f.private_pgr:.2f}'} "
                            f"(acc {f.private_transfer_acc:.2f})" for f in a.final) or "-"
        table.add_row(a.name, a.direction, a.state, "-" if a.best_public_pgr is None else f"{a.best_public_pgr:.2f}",
                      str(a.submissions), f"{a.cost_usd:.2f}", *((private,) if final else ()))
    return table


def _supervise(state: Path) -> None:
    from rich.live import Live

    from aarlab.campaign._run import supervise
    from aarlab.campaign._state import CampaignError, CampaignInfo, now
    from aarlab.campaign._status import campaign_status

    last = [0.0]
    with Live(console=err, auto_refresh=False, transient=False) as live:

        def tick(info: CampaignInfo) -> None:
            if now() - last[0] >= 2:
                last[0] = now()
                live.update(_table(campaign_status(state), info.deadline - now()), refresh=True)

        try:
            supervise(state, tick, lambda m: err.print(m, highlight=False))
        except CampaignError as e:
            raise fail(str(e), 1) from None
        except KeyboardInterrupt:
            err.print(f"stopped; continue with `aarlab campaign resume --state {state}`", highlight=False)
            raise typer.Exit(130) from None
        live.update(_table(campaign_status(state)), refresh=True)


@campaign_app.command("run")
def run(
    state: StateOpt,
    suite: Annotated[str, typer.Option("--suite", help="Built-in suite (built once if needed)")] = "tiny",
    agents: Annotated[int, typer.Option("--agents", min=1, help="Number of agents")] = 3,
    agent: Annotated[str, typer.Option("--agent", help="'search' (offline researcher, no LLM) or a model string "
                                       "such as anthropic/claude-sonnet-4-5, openai/gpt-4.1, "
                                       "openai-api/local/llama-3")] = "search",
    minutes: Annotated[float, typer.Option("--minutes", min=0.1, help="Wall-clock length of the campaign (every "
                                           "agent's wall budget)")] = 10.0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Agent processes at once")] = 3,
    budget: Annotated[int, typer.Option("--budget", min=1, help="Evaluations per agent per dataset")] = 50,
    trial_timeout: Annotated[float, typer.Option("--trial-timeout", min=1, help="Seconds one experiment may "
                                                 "run in the sandbox")] = 300.0,
    home: Annotated[Path | None, typer.Option("--home", help="aarlab home holding built suites "
                                              "(default $AARLAB_HOME or ~/.cache/aarlab)")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="LLM endpoint (an OpenAI-compatible server, "
                                                 "or a proxy of the provider's API)")] = None,
    usd: Annotated[float | None, typer.Option("--usd", min=0, help="LLM spend per agent (USD) before it "
                                              "stops")] = None,
    tokens: Annotated[int | None, typer.Option("--tokens", min=1, help="LLM tokens per agent before it "
                                               "stops")] = None,
    max_experiments: Annotated[int | None, typer.Option("--max-experiments", min=1, help="Experiments (w2s_run "
                                                        "calls / search trials) per agent")] = None,
    prices: Annotated[Path | None, typer.Option("--prices", help="TOML price table, USD per million tokens "
                                                "(default: the built-in table)")] = None,
    directions: Annotated[Path | None, typer.Option("--directions", help="Research directions file (.toml of "
                                                    "direction tables, or text separated by --- lines); "
                                                    "default: the built-in set, one per agent")] = None,
    server: Annotated[str | None, typer.Option("--server", help="Use this existing scoring service "
                                               "(http://host:port or unix:///path.sock) instead of starting "
                                               "one")] = None,
    admin_token: Annotated[str | None, typer.Option("--admin-token", envvar="AARLAB_ADMIN_TOKEN",
                                                    help="Admin token of --server (creates the agents)")] = None,
    admin_token_file: Annotated[Path | None, typer.Option("--admin-token-file", help="File holding the admin "
                                                          "token of --server")] = None,
    dashboard_port: Annotated[int | None, typer.Option("--dashboard-port", min=1, max=65535, help="Also serve "
                                                       "the campaign's server (and dashboard) on "
                                                       "127.0.0.1:PORT")] = None,
) -> None:
    """Start a campaign: scoring service, agents with tokens and sandboxes, live progress until the deadline.

    Examples: aarlab campaign run --state runs/demo --agents 3 --minutes 5;
    aarlab campaign run --state runs/llm --agent anthropic/claude-sonnet-4-5 --agents 2 --usd 5 --minutes 60
    """
    from aarlab.campaign._llm import LLMOptions
    from aarlab.campaign._setup import setup_campaign
    from aarlab.campaign._state import CampaignError
    from aarlab.home import resolve_home

    state = state.expanduser().resolve()
    if admin_token_file is not None:
        if admin_token is not None:
            raise fail("give --admin-token or --admin-token-file, not both")
        try:
            admin_token = admin_token_file.expanduser().read_text().strip()
        except OSError as e:
            raise fail(f"cannot read --admin-token-file: {e}") from None
    if admin_token is not None and server is None:
        raise fail("--admin-token is for --server (the campaign's own server makes its own admin token)")
    llm = LLMOptions(model=agent, base_url=base_url, budget_usd=usd, budget_tokens=tokens,
                     budget_experiments=max_experiments, prices_file=prices, directions_file=directions)
    try:
        setup_campaign(state, suite=suite, home=resolve_home(home), agents=agents, kind=agent, minutes=minutes,
                       concurrency=concurrency, budget=budget, trial_timeout_s=trial_timeout,
                       log=lambda m: err.print(m, highlight=False), llm=llm, server=server,
                       admin_token=admin_token, dashboard_port=dashboard_port)
    except CampaignError as e:
        raise fail(str(e)) from None
    _supervise(state)


@campaign_app.command("resume")
def resume(
    state: StateOpt,
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.1, help="Time to give the unfinished "
                                                  "agents (default: what the campaign had left)")] = None,
) -> None:
    """Continue a stopped campaign: unfinished agents restart and resume (search: their optuna studies; LLM agents:
    their transcripts, notebooks and workspaces).

    Example: aarlab campaign resume --state runs/demo --minutes 5
    """
    from aarlab.campaign._run import prepare_resume
    from aarlab.campaign._state import CampaignError

    state = state.expanduser().resolve()
    try:
        prepare_resume(state, minutes)
    except CampaignError as e:
        raise fail(str(e)) from None
    _supervise(state)


@campaign_app.command("status")
def status(state: StateOpt,
           as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON")] = False) -> None:
    """Agents, their states, best stored public PGR (from the scoring service) and LLM spend.

    Example: aarlab campaign status --state runs/demo --json
    """
    from aarlab.campaign._state import CampaignError
    from aarlab.campaign._status import campaign_status

    try:
        result = campaign_status(state.expanduser().resolve())
    except CampaignError as e:
        raise fail(str(e)) from None
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        out.print(_table(result))
