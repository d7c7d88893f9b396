"""Set up a campaign state dir: build the suite, initialize the scoring service, write agent-visible data, create
agents with their tokens and assignments."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from aarlab.campaign._state import AgentAssignment, AgentRecord, CampaignError, CampaignInfo, now, save_campaign


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


def write_visible_data(state: Path, suite_name: str, home: Path, log: Callable[[str], None]) -> list[str]:
    """Write each dataset's agent-visible copy (weak soft labels of teacher seed 0) to ``visible/<dataset>/``."""
    from aarlab.suites import load_suite
    from aarlab.w2s.data import write_agent_visible
    from aarlab.w2s.pipeline import Experiment, default_cache

    suite = load_suite(suite_name, home)
    for dataset in suite.spec.datasets:
        target = state / "visible" / dataset
        if (target / "weak_soft_labels.jsonl").is_file():
            continue
        log(f"writing agent-visible data of {dataset}")
        experiment = Experiment(suite, dataset, default_cache(suite))
        write_agent_visible(target, experiment.dataset, experiment.weak_teacher(0)["soft_labels"])
    return list(suite.spec.datasets)


def ensure_suite(suite_name: str, home: Path, log: Callable[[str], None]) -> None:
    """Build the suite once if it has a builder and is not built yet."""
    from aarlab.suites import SuiteBuildError, build_suite, is_built, load_suite

    suite = load_suite(suite_name, home)
    if suite.spec.builder is not None and not is_built(suite):
        log(f"building suite {suite_name} once (cached under {suite.root})")
        try:
            build_suite(suite, lambda *_: None)
        except SuiteBuildError as err:
            raise CampaignError(str(err)) from None


def direction_of(kind: str, index: int, datasets: list[str]) -> tuple[str, list[str], int]:
    """An agent's research direction: its own dataset first (round robin), and a distinct search seed."""
    own = datasets[index % len(datasets)]
    order = [own, *(d for d in datasets if d != own)]
    seed = 1000 + index
    if kind == "search":
        return f"optuna TPE seed {seed} on {own}, then exploit forum results", order, seed
    return f"{kind} researcher on {own}", order, seed


def setup_campaign(state: Path, *, suite: str, home: Path, agents: int, kind: str, minutes: float, concurrency: int,
                   budget: int, trial_timeout_s: float, log: Callable[[str], None]) -> CampaignInfo:
    """Create a new campaign in ``state`` (which must not hold one) and return its record."""
    from aarlab.server import StateError, add_agent, init_state

    if kind != "search":
        raise CampaignError(f"agent kind {kind!r} is not available yet; use --agent search (the offline "
                            "researcher; LLM agents come later)")
    if (state / "campaign.json").exists():
        raise CampaignError(f"{state} already holds a campaign; continue it with `aarlab campaign resume --state "
                            f"{state}` or pick another --state")
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    ensure_suite(suite, home, log)
    try:
        init_state(server_dir(state), suite=suite, home=home).db.dispose()
    except StateError as err:
        raise CampaignError(str(err)) from None
    datasets = write_visible_data(state, suite, home, log)
    started = now()
    records = []
    for index in range(agents):
        name = f"search-{index + 1}" if kind == "search" else f"agent-{index + 1}"
        direction, order, seed = direction_of(kind, index, datasets)
        workspace = state / "agents" / name / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        try:
            token = add_agent(server_dir(state), name, budget)
        except StateError as err:
            raise CampaignError(str(err)) from None
        _write_private(state / "agents" / name / "token", token + "\n")
        assignment = AgentAssignment(name=name, kind=kind, direction=direction, suite=suite, home=str(home),
                                     datasets=order, seed=seed, deadline=started + minutes * 60,
                                     trial_timeout_s=trial_timeout_s)
        assignment_file(state, name).write_text(assignment.model_dump_json(indent=2))
        records.append(AgentRecord(name=name, direction=direction))
    info = CampaignInfo(suite=suite, home=str(home), agent_kind=kind, minutes=minutes, concurrency=concurrency,
                        budget=budget, started_at=started, deadline=started + minutes * 60, agents=records)
    save_campaign(state, info)
    return info
