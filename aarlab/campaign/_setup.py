"""Set up a campaign state dir: build the suite, initialize the scoring service, write agent-visible data, create
agents with their tokens and assignments."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from aarlab.campaign._external import admin_client, create_agents
from aarlab.campaign._llm import LLMOptions, check_options
from aarlab.campaign._state import (
    OFFLINE_KINDS,
    AgentAssignment,
    AgentRecord,
    CampaignError,
    CampaignInfo,
    now,
    save_campaign,
)

if TYPE_CHECKING:
    from aarlab.agents.prompts import Direction
    from aarlab.campaign._cluster import ClusterOptions

#: Opens the view of a suite build: yields ``(progress(stage, done, total), log(message))``.
BuildView = Callable[[], AbstractContextManager[tuple[Callable[[str, float, float], None], Callable[[str], None]]]]


def server_dir(state: Path) -> Path:
    """The scoring service's state dir inside a campaign (ground truth lives here)."""
    return state / "server"


def assignment_file(state: Path, name: str) -> Path:
    """``agents/NAME/agent.json``."""
    return state / "agents" / name / "agent.json"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def write_visible_data(state: Path, suite_name: str, home: Path, log: Callable[[str], None],
                       datasets: list[str] | None = None) -> list[str]:
    """Write each dataset's agent-visible copy (weak soft labels of teacher seed 0) to ``visible/<dataset>/``;
    ``datasets``: only these (a campaign's development datasets: the held-out ones are never shown)."""
    from aarlab.suites import load_suite
    from aarlab.w2s.data import write_agent_visible
    from aarlab.w2s.pipeline import Experiment, default_cache

    suite = load_suite(suite_name, home)
    chosen = [d for d in suite.spec.datasets if datasets is None or d in datasets]
    for dataset in chosen:
        target = state / "visible" / dataset
        if (target / "weak_soft_labels.jsonl").is_file():
            continue
        log(f"writing agent-visible data of {dataset}")
        experiment = Experiment(suite, dataset, default_cache(suite))
        write_agent_visible(target, experiment.dataset, experiment.weak_teacher(0)["soft_labels"])
    return chosen


def load_suite_datasets(suite: str, home: Path) -> list[str]:
    """The suite's datasets, in its order."""
    from aarlab.suites import load_suite

    return list(load_suite(suite, home).spec.datasets)


def check_dev_datasets(suite: str, home: Path, dev: list[str] | None) -> list[str] | None:
    """``--dev-dataset`` names: each one of the suite's datasets, no repeats (:class:`CampaignError` otherwise)."""
    if not dev:
        return None
    from aarlab.suites import SuiteError, load_suite

    try:
        names = load_suite(suite, home).spec.datasets
    except SuiteError as err:
        raise CampaignError(str(err)) from None
    unknown = [d for d in dev if d not in names]
    if unknown or len(set(dev)) != len(dev):
        raise CampaignError(f"--dev-dataset {', '.join(unknown or dev)}: give distinct datasets of suite {suite!r} "
                            f"({', '.join(names)})")
    return [d for d in names if d in dev]


def ensure_suite(suite_name: str, home: Path, log: Callable[[str], None],
                 build_view: BuildView | None = None) -> None:
    """Build the suite once if it has a builder and is not built yet.

    ``build_view``: a context manager yielding ``(progress, log)`` for the build (bars with an ETA on a terminal,
    throttled lines otherwise: :func:`aarlab.suites._progress.build_progress`); without one the build is silent
    apart from ``log``.
    """
    from aarlab.suites import SuiteBuildError, build_suite, is_built, load_suite

    suite = load_suite(suite_name, home)
    if suite.spec.builder is not None and not is_built(suite):
        log(f"building suite {suite_name} once (cached under {suite.root})")
        try:
            if build_view is None:
                build_suite(suite, lambda *_: None, log=log)  # log: the wait for a build in another process
            else:
                with build_view() as (progress, build_log):
                    build_suite(suite, progress, log=build_log)
        except SuiteBuildError as err:
            raise CampaignError(str(err)) from None


def direction_of(kind: str, index: int, datasets: list[str]) -> tuple[str, list[str], int]:
    """An agent's research direction: its own dataset first (round robin), and a distinct search seed."""
    own = datasets[index % len(datasets)]
    order = [own, *(d for d in datasets if d != own)]
    seed = 1000 + index
    if kind == "search":
        return f"optuna TPE seed {seed} on {own}, then exploit forum results", order, seed
    if kind == "evolve":
        return f"evolve method programs (seed {seed}) on {own}, building on forum programs", order, seed
    return f"{kind} researcher on {own}", order, seed


def _check_kind(kind: str, llm: LLMOptions | None) -> list[Direction]:
    """Validate the agents' kind and LLM options before anything is created; the directions of LLM agents."""
    from aarlab.agents.prompts import DirectionError, load_directions

    if kind in OFFLINE_KINDS:
        if llm is not None:
            given = [flag for flag, value in (("--usd", llm.budget_usd), ("--tokens", llm.budget_tokens),
                                              ("--prices", llm.prices_file), ("--directions", llm.directions_file),
                                              ("--base-url", llm.base_url)) if value is not None]
            if given:
                raise CampaignError(f"{', '.join(given)} only apply to LLM agents (--agent MODEL); the {kind} "
                                    "agent takes --max-experiments")
        return []
    check_options(llm or LLMOptions(model=kind))
    try:
        return load_directions(llm.directions_file if llm else None)
    except DirectionError as err:
        raise CampaignError(str(err)) from None


def _create_tokens(state: Path, names: list[str], budget: int, datasets: list[str], server: str | None,
                   admin_token: str | None) -> dict[str, str]:
    """Agents and tokens: in the campaign's own server state, or on an existing server through its admin API."""
    from aarlab.server import StateError, add_agent

    if server is not None:
        assert admin_token is not None
        return create_agents(server, admin_token, names, budget, datasets)
    tokens = {}
    for name in names:
        try:
            tokens[name] = add_agent(server_dir(state), name, budget)
        except StateError as err:
            raise CampaignError(str(err)) from None
    return tokens


def setup_campaign(state: Path, *, suite: str, home: Path, agents: int, kind: str, minutes: float, concurrency: int,
                   budget: int, trial_timeout_s: float, log: Callable[[str], None], llm: LLMOptions | None = None,
                   server: str | None = None, admin_token: str | None = None,
                   dashboard_port: int | None = None, build_view: BuildView | None = None,
                   cluster: ClusterOptions | None = None, db_url: str | None = None,
                   dev_datasets: list[str] | None = None, ladder_bits: float | None = None,
                   promote_best: bool = False) -> CampaignInfo:
    """Create a new campaign in ``state`` (which must not hold one) and return its record.

    ``kind`` is ``"search"`` or a model string (``llm`` then holds its endpoint, budgets, prices and directions).
    With ``server``, agents are created on that existing scoring service (``admin_token``) instead of a new one;
    otherwise ``db_url`` (SQLAlchemy URL, e.g. PostgreSQL) holds the new service's database (default: SQLite in it).
    Everything that can be checked (model, API key, prices, directions, admin token) is checked before anything
    is written; with ``cluster`` (agents as Ray actors) also the storage, the cluster and its resources.
    ``dev_datasets``: the datasets agents work on and see; the suite's others are held out (never shown to an agent;
    a promotion's re-run scores the method on them). ``ladder_bits``: the Ladder's information budget of the
    campaign's own server (not with ``server``). ``promote_best``: the end promotes the best queued submission (not
    with ``server``, whose state and queue live elsewhere).
    """
    from aarlab.server import StateError, init_state

    directions = _check_kind(kind, llm)
    dev_datasets = check_dev_datasets(suite, home, dev_datasets)
    if (state / "campaign.json").exists():
        raise CampaignError(f"{state} already holds a campaign; continue it with `aarlab campaign resume --state "
                            f"{state}` or pick another --state")
    if server is not None:
        if ladder_bits is not None:
            raise CampaignError("--ladder-bits sets the Ladder of the campaign's own server; --server has its own "
                                "settings (`aarlab server start --config`)")
        if promote_best:
            raise CampaignError("--promote-best re-runs a submission against the campaign's own server's answer "
                                "keys; with --server promote on that service's machine (`aarlab promote --queued "
                                "--state ITS_STATE`)")
        if not admin_token:
            raise CampaignError("--server needs the service's admin token (--admin-token or --admin-token-file)")
        admin_client(server, admin_token).close()
        if dashboard_port is not None:
            raise CampaignError("--dashboard-port starts the campaign's own server's dashboard; with --server, open "
                                "the dashboard of that server instead")
        if db_url is not None:
            raise CampaignError("--db is the database of the campaign's own server; --server has its own")
    settings = None
    if cluster is not None:
        from aarlab.campaign._cluster import check_cluster

        if dashboard_port is not None:  # on a cluster the dashboard port is the service's one TCP port
            cluster = dataclasses.replace(cluster, service_port=dashboard_port)
        settings = check_cluster(state, cluster, server)
        if cluster.storage is None and cluster.address != "local":
            log(f"storage: {settings.storage} (a directory of this machine: every node must see it at that path; "
                "give --storage s3://BUCKET/PREFIX otherwise)")
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    ensure_suite(suite, home, log, build_view)
    if server is None:
        try:
            init_state(server_dir(state), suite=suite, home=home, db_url=db_url).db.dispose()
        except StateError as err:
            raise CampaignError(str(err)) from None
    else:
        _write_private(state / "admin.token", f"{admin_token}\n")
    datasets = write_visible_data(state, suite, home, log, dev_datasets)
    if dev_datasets is not None:
        held_out = [d for d in load_suite_datasets(suite, home) if d not in dev_datasets]
        log(f"development datasets: {', '.join(dev_datasets)}; held out (never shown to an agent, scored by "
            f"promotion re-runs): {', '.join(held_out) or 'none'}")
    names = [f"{kind}-{i + 1}" if kind in OFFLINE_KINDS else f"agent-{i + 1}" for i in range(agents)]
    tokens = _create_tokens(state, names, budget, datasets, server, admin_token)
    started = now()
    records = []
    for index, name in enumerate(names):
        direction, order, seed = direction_of(kind, index, datasets)
        extra: dict[str, object] = {}
        if llm is not None:
            extra = {"budget_experiments": llm.budget_experiments}
        if kind not in OFFLINE_KINDS and llm is not None:
            chosen = directions[index % len(directions)]
            direction = chosen.title
            extra.update(model=kind, base_url=llm.base_url, direction_name=chosen.name, direction_text=chosen.text,
                         budget_usd=llm.budget_usd, budget_tokens=llm.budget_tokens,
                         prices_file=str(llm.prices_file.resolve()) if llm.prices_file else None)
        workspace = state / "agents" / name / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        _write_private(state / "agents" / name / "token", tokens[name] + "\n")
        assignment = AgentAssignment(name=name, kind=kind, direction=direction, suite=suite, home=str(home),
                                     datasets=order, seed=seed, deadline=started + minutes * 60,
                                     trial_timeout_s=trial_timeout_s, **extra)  # type: ignore[arg-type]
        assignment_file(state, name).write_text(assignment.model_dump_json(indent=2))
        records.append(AgentRecord(name=name, direction=direction))
    info = CampaignInfo(suite=suite, home=str(home), agent_kind=kind, minutes=minutes, concurrency=concurrency,
                        budget=budget, server=server, dashboard_port=dashboard_port, started_at=started,
                        deadline=started + minutes * 60, agents=records, cluster=settings,
                        dev_datasets=dev_datasets, ladder_bits=ladder_bits, promote_best=promote_best)
    save_campaign(state, info)
    if settings is not None:
        from aarlab.campaign._cluster import publish

        publish(state, info)
    return info

