"""Commands ``aarlab campaign run|resume|status``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from aarlab.campaign._cluster import ClusterOptions
    from aarlab.campaign._state import CampaignInfo
    from aarlab.campaign._status import CampaignStatus

campaign_app = typer.Typer(help="Run research campaigns: N agents in sandboxes against one scoring service.",
                           no_args_is_help=True)
out = Console()
err = Console(stderr=True)

StateOpt = Annotated[Path, typer.Option("--state", help="Campaign state dir (server state, agents, logs)")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No live view: one log line per change (as when the "
                                        "output is not a terminal)")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Attach ``campaign`` to the root ``aarlab`` app."""
    from aarlab.campaign import cli_report  # noqa: F401  (adds `campaign report` to campaign_app)

    app.add_typer(campaign_app, name="campaign")


def _say(message: str) -> None:
    """A supervisor or set-up message: one unwrapped line on stderr (logs keep whole lines)."""
    err.print(message, highlight=False, markup=False, soft_wrap=True)


class _LiveWatch:
    """On a terminal: the live view (redrawn about once a second, the status read every 2 s), erased at the end
    so that the summary table is printed once; messages are printed above it."""

    def __init__(self, state: Path) -> None:
        from rich.live import Live

        self.state = state
        self.live = Live(console=err, auto_refresh=False, transient=True)  # stray prints go above the view
        self.status: CampaignStatus | None = None
        self.read_at = 0.0

    def __enter__(self) -> _LiveWatch:
        self.live.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.live.stop()

    def tick(self, info: CampaignInfo) -> None:
        from aarlab.campaign._live import live_view
        from aarlab.campaign._state import now

        if now() - self.read_at >= 2 or self.status is None:
            self.read_at = now()
            self.status = _read_status(self.state) or self.status
        if self.status is not None:
            shown = self.status.model_copy(update={"time_left_s": max(0.0, info.deadline - now())})
            self.live.update(live_view(shown, f"campaign {self.state.name}"), refresh=True)

    def log(self, message: str) -> None:
        _say(message)


class _LineWatch:
    """Not a terminal, or ``--quiet``: plain log lines, one per agent whose state, experiment or scores changed,
    and the campaign's headline every minute; no cursor movement."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.status: CampaignStatus | None = None
        self.read_at = 0.0
        self.headline_at = 0.0

    def __enter__(self) -> _LineWatch:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def tick(self, _info: CampaignInfo) -> None:
        from aarlab.campaign._live import change_lines, headline
        from aarlab.campaign._state import now

        if now() - self.read_at < 2:
            return
        self.read_at = now()
        status = _read_status(self.state)
        if status is None:
            return
        for line in change_lines(self.status, status):
            self.log(line)
        if now() - self.headline_at >= 60:
            self.headline_at = now()
            self.log(headline(status))
        self.status = status

    def log(self, message: str) -> None:
        import time

        _say(f"{time.strftime('%H:%M:%S')} {message}")


def _read_status(state: Path) -> CampaignStatus | None:
    """The campaign's status now, or None when it cannot be read at this moment (the view keeps the last one; a
    busy database must not stop the supervisor)."""
    from sqlalchemy.exc import SQLAlchemyError

    from aarlab.campaign._state import CampaignError
    from aarlab.campaign._status import campaign_status

    try:
        return campaign_status(state)
    except (CampaignError, SQLAlchemyError, OSError):
        return None


def _watch(state: Path, *, quiet: bool, terminal: bool) -> _LiveWatch | _LineWatch:
    """The live view on a terminal, log lines otherwise or with ``--quiet``."""
    return _LineWatch(state) if quiet or not terminal else _LiveWatch(state)


def _supervise(state: Path, quiet: bool = False) -> None:
    """Run the campaign with the live view (a terminal) or log lines (``--quiet``, or not a terminal); then print
    the summary table once, write the report and say where it is."""
    from aarlab.campaign._run import supervise
    from aarlab.campaign._state import CampaignError

    watch = _watch(state, quiet=quiet, terminal=err.is_terminal)
    try:
        with watch:
            supervise(state, watch.tick, watch.log)
    except CampaignError as e:
        raise fail(str(e), 1) from None
    except KeyboardInterrupt:
        _say(f"stopped; continue with `aarlab campaign resume --state {state}`")
        raise typer.Exit(130) from None
    _finish(state)


def _finish(state: Path) -> None:
    """The end of a campaign: ONE summary table (at most 100 columns) on stdout, with ``--promote-best`` the best
    queued submission promoted, the report written to ``STATE/report.html`` and one line saying where it is and how
    to open the dashboard."""
    from aarlab.campaign._live import SUMMARY_WIDTH, report_line, summary_table
    from aarlab.campaign._report import write_report
    from aarlab.campaign._state import CampaignError, load_campaign
    from aarlab.campaign._status import campaign_status

    try:
        status = campaign_status(state)
        info = load_campaign(state)
    except CampaignError as e:
        raise fail(str(e), 1) from None
    shown = out if out.is_terminal else Console(width=SUMMARY_WIDTH)
    shown.print(summary_table(status))
    promoted = _promote_best(state, info.dev_datasets) if info.promote_best else []
    report: Path | None
    try:
        report = write_report(state, state / "report.html")[0]
    except (CampaignError, OSError) as e:
        _say(f"the report was not written: {e}")
        report = None
    from aarlab.agents.evolve._agent import findings

    ran = bool(promoted) and not promoted[0].startswith("--promote-best")
    for line in findings(state, promoting=ran) + promoted:  # an evolve campaign: what it found; what the promotion says
        shown.print(line, highlight=False, markup=False, soft_wrap=True)
    shown.print(report_line(state, report, status.dashboard_url), highlight=False, markup=False, soft_wrap=True)


def _promote_best(state: Path, dev_datasets: list[str] | None) -> list[str]:
    """``--promote-best``: promote the best queued submission now (progress on stderr); the lines to print."""
    from aarlab.campaign._promote import PromotionError
    from aarlab.campaign._promote_best import promote_best, promotion_lines
    from aarlab.suites import SuiteError

    try:
        result = promote_best(state, _say)
    except (PromotionError, SuiteError, OSError) as e:  # SuiteError: a ValueError (a suite or input problem)
        return [f"--promote-best: not promoted: {e}"]
    except KeyboardInterrupt:  # a promotion records nothing until it is complete
        return [f"--promote-best: interrupted, nothing recorded; run the queue with `aarlab promote --queued "
                f"--state {state}`"]
    if result is None:
        return ["--promote-best: no queued submission to promote (no agent linked its best to a method snapshot)"]
    return promotion_lines(result, dev_datasets)


@campaign_app.command("run")
def run(
    state: StateOpt,
    suite: Annotated[str, typer.Option("--suite", help="Built-in suite (built once if needed)")] = "tiny",
    agents: Annotated[int, typer.Option("--agents", min=1, help="Number of agents")] = 3,
    agent: Annotated[str, typer.Option("--agent", help="'search' (offline: optuna over the method library), "
                                       "'evolve' (offline: writes new methods as programs of W2S building blocks "
                                       "and evolves them) or a model string such as anthropic/claude-sonnet-4-5, "
                                       "openai/gpt-4.1, openai-api/local/llama-3")] = "search",
    minutes: Annotated[float, typer.Option("--minutes", min=0.1, help="Wall-clock length of the campaign (every "
                                           "agent's wall budget)")] = 10.0,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, help="Agents at once (default 3; with "
                                                    "--cluster every agent: Ray places them as resources "
                                                    "allow)")] = None,
    budget: Annotated[int, typer.Option("--budget", min=1, help="Evaluations per agent per dataset")] = 50,
    dev_dataset: Annotated[list[str] | None, typer.Option("--dev-dataset", help="A development dataset "
                                                          "(repeatable): agents see and work on only these; the "
                                                          "suite's others are held out, scored by promotion re-runs "
                                                          "(default: every dataset)")] = None,
    trial_timeout: Annotated[float, typer.Option("--trial-timeout", min=1, help="Seconds one experiment may "
                                                 "run in the sandbox")] = 300.0,
    ladder_bits: Annotated[float | None, typer.Option("--ladder-bits", min=0, max=1e6, help="Information budget "
                                                      "of the Ladder per agent and dataset, in bits (default: the "
                                                      "server's, 2): past it an agent's public score freezes. A "
                                                      "research campaign whose agents select on public score can "
                                                      "loosen it (e.g. 16); promotion re-runs on the private split "
                                                      "still decide what a result is worth (docs/scoring.md)")
                            ] = None,
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
    quiet: QuietOpt = False,
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the campaign's own server's database, "
                                           "e.g. postgresql+psycopg://u@host/db (default: SQLite in STATE/server)")
                  ] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Run the agents as Ray actors on this cluster: "
                                                "HOST:PORT of its head, ray://HOST:PORT, auto, or 'local' (an "
                                                "in-process one); default: processes on this machine, no Ray",
                                                rich_help_panel="Cluster")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="fsspec URL of the state shared with the nodes "
                                                "(s3://bucket/prefix; endpoint and keys from the AWS_* environment); "
                                                "default STATE/storage", rich_help_panel="Cluster")] = None,
    agent_cpus: Annotated[float, typer.Option("--agent-cpus", min=0.01, help="CPUs one agent asks Ray for",
                                              rich_help_panel="Cluster")] = 1.0,
    agent_gpus: Annotated[float, typer.Option("--agent-gpus", min=0, help="GPUs one agent asks Ray for",
                                              rich_help_panel="Cluster")] = 0.0,
    agent_memory: Annotated[str | None, typer.Option("--agent-memory", help="Memory one agent asks Ray for "
                                                     "(e.g. 8GiB)", rich_help_panel="Cluster")] = None,
    agent_resource: Annotated[list[str] | None, typer.Option("--agent-resource", help="Custom Ray resource one "
                                                             "agent asks for, NAME=AMOUNT (repeatable)",
                                                             rich_help_panel="Cluster")] = None,
    experiment_cpus: Annotated[float, typer.Option("--experiment-cpus", min=0.01, help="CPUs each seed of an "
                                                   "agent's experiment asks Ray for when its seeds fan out as tasks "
                                                   "(w2s_run with several seeds)", rich_help_panel="Cluster")] = 1.0,
    experiment_gpus: Annotated[float, typer.Option("--experiment-gpus", min=0, help="GPUs each fanned-out seed "
                                                   "asks for", rich_help_panel="Cluster")] = 0.0,
    experiment_memory: Annotated[str | None, typer.Option("--experiment-memory", help="Memory each fanned-out "
                                                          "seed asks for (e.g. 8GiB)", rich_help_panel="Cluster")
                                 ] = None,
    experiment_resource: Annotated[list[str] | None, typer.Option("--experiment-resource", help="Custom Ray "
                                                                  "resource each fanned-out seed asks for, "
                                                                  "NAME=AMOUNT (repeatable)",
                                                                  rich_help_panel="Cluster")] = None,
    service_host: Annotated[str | None, typer.Option("--service-host", help="Address of this machine where the "
                                                     "nodes reach the scoring service (default: this machine's "
                                                     "address as Ray sees it; 127.0.0.1 for --cluster local)",
                                                     rich_help_panel="Cluster")] = None,
    checkpoint_every: Annotated[float, typer.Option("--checkpoint-every", min=1, help="Seconds between an agent's "
                                                    "checkpoints to the storage", rich_help_panel="Cluster")] = 15.0,
    node_dir: Annotated[str | None, typer.Option("--node-dir", help="Directory on every node for the agents' "
                                                 "local campaign dirs and the experiments' inputs (default: the "
                                                 "node's temp dir)", rich_help_panel="Cluster")] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Serve the scoring service over HTTPS with "
                                                  "this PEM certificate (nodes trust it; its names must cover "
                                                  "--service-host)", rich_help_panel="Cluster")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="The PEM private key of --tls-cert",
                                                 rich_help_panel="Cluster")] = None,
    promote_best: Annotated[bool, typer.Option("--promote-best", help="At the end, promote the best queued "
                                               "submission by a clean re-run (3 fresh seeds, private split, "
                                               "shuffled weak labels, held-out datasets; a few minutes on tiny) "
                                               "and say how it generalised")] = False,
) -> None:
    """Start a campaign: scoring service, agents with tokens and sandboxes, a live view until the deadline, then one
    summary table and the report (STATE/report.html).

    Examples: aarlab campaign run --state runs/demo --agents 3 --minutes 5;
    aarlab campaign run --state runs/evolve --agent evolve --dev-dataset chat --minutes 4 --promote-best;
    aarlab campaign run --state runs/llm --agent anthropic/claude-sonnet-4-5 --agents 2 --usd 5 --minutes 60;
    aarlab campaign run --state runs/ray --cluster 10.0.0.5:6379 --storage s3://bucket/aarlab --agent-gpus 1
    """
    from aarlab.campaign._llm import LLMOptions
    from aarlab.campaign._setup import setup_campaign
    from aarlab.campaign._state import CampaignError
    from aarlab.home import resolve_home
    from aarlab.suites._progress import build_progress

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
        options = _cluster_options(cluster, storage,
                                   Request(agent_cpus, agent_gpus, agent_memory, agent_resource or []),
                                   service_host, checkpoint_every, (tls_cert, tls_key),
                                   Request(experiment_cpus, experiment_gpus, experiment_memory,
                                           experiment_resource or []), node_dir)
    except CampaignError as e:
        raise fail(str(e)) from None
    try:
        setup_campaign(state, suite=suite, home=resolve_home(home), agents=agents, kind=agent, minutes=minutes,
                       concurrency=concurrency or (agents if cluster else 3), budget=budget,
                       trial_timeout_s=trial_timeout,
                       log=_say, llm=llm, server=server, admin_token=admin_token, dashboard_port=dashboard_port,
                       build_view=lambda: build_progress(err, plain=quiet), cluster=options,
                       db_url=db, dev_datasets=dev_dataset or None, ladder_bits=ladder_bits,
                       promote_best=promote_best)
    except CampaignError as e:
        raise fail(str(e)) from None
    _supervise(state, quiet)


@dataclass(frozen=True)
class Request:
    """One ``--agent-*`` or ``--experiment-*`` group of flags as given."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory: str | None = None
    resources: list[str] = field(default_factory=list)

    def given(self, what: str) -> list[str]:
        """The flags set away from their defaults."""
        return [f"--{what}-{flag}" for flag, value in (("cpus", None if self.cpus == 1 else self.cpus),
                                                        ("gpus", self.gpus or None), ("memory", self.memory),
                                                        ("resource", self.resources or None)) if value is not None]

    def parse(self, what: str) -> dict[str, float]:
        """Ray resource names and amounts (:class:`CampaignError` naming a bad value)."""
        from aarlab.campaign._cluster import parse_memory, parse_resources
        from aarlab.cluster._ray import resource_request

        memory = parse_memory(self.memory, f"--{what}-memory") if self.memory else None
        return resource_request(self.cpus, memory, self.gpus, parse_resources(self.resources, what))


def _cluster_options(cluster: str | None, storage: str | None, agent: Request, service_host: str | None,
                     checkpoint_s: float, tls: tuple[Path | None, Path | None] = (None, None),
                     experiment: Request | None = None, node_dir: str | None = None) -> ClusterOptions | None:
    """The ``--cluster`` options, or None for a single-machine campaign (where the cluster flags are refused)."""
    from aarlab.campaign._cluster import ClusterOptions, parse_memory, parse_resources
    from aarlab.campaign._state import CampaignError

    experiment = experiment or Request()
    if cluster is None:
        given = [flag for flag, value in (("--storage", storage), ("--service-host", service_host),
                                          ("--checkpoint-every", None if checkpoint_s == 15 else checkpoint_s),
                                          ("--tls-cert", tls[0]), ("--tls-key", tls[1]), ("--node-dir", node_dir))
                 if value is not None] + agent.given("agent") + experiment.given("experiment")
        if given:
            raise CampaignError(f"{', '.join(given)} only apply with --cluster (agents as Ray actors)")
        return None
    return ClusterOptions(address=cluster.strip(), storage=storage, cpus=agent.cpus, gpus=agent.gpus,
                          memory=parse_memory(agent.memory) if agent.memory else None,
                          resources=parse_resources(agent.resources),
                          service_host=service_host, checkpoint_s=checkpoint_s,
                          tls_cert=tls[0].expanduser().resolve() if tls[0] else None,
                          tls_key=tls[1].expanduser().resolve() if tls[1] else None,
                          experiment=experiment.parse("experiment"), node_dir=_node_dir(node_dir))


def _node_dir(value: str | None) -> str | None:
    """``--node-dir``: an absolute path (it names a directory on every node, not only here)."""
    from aarlab.campaign._state import CampaignError

    if value is None:
        return None
    if not value.startswith("/") or "\x00" in value:
        raise CampaignError(f"--node-dir {value!r}: give an absolute path (the same directory on every node)")
    return value


@campaign_app.command("resume")
def resume(
    state: StateOpt,
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.1, help="Time to give the unfinished "
                                                  "agents (default: what the campaign had left)")] = None,
    quiet: QuietOpt = False,
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
    _supervise(state, quiet)


@campaign_app.command("status")
def status(state: StateOpt,
           as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON")] = False) -> None:
    """Agents, their states, best stored public and promoted PGR (from the scoring service), flags, LLM spend, and
    (--json) each agent's latest experiment and what is left of its budgets.

    Example: aarlab campaign status --state runs/demo --json
    """
    from aarlab.campaign._live import summary_table
    from aarlab.campaign._state import CampaignError
    from aarlab.campaign._status import campaign_status

    try:
        result = campaign_status(state.expanduser().resolve())
    except CampaignError as e:
        raise fail(str(e)) from None
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        out.print(summary_table(result))
