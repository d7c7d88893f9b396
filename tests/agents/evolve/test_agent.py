"""The evolve researcher in a real campaign on tiny: it writes method files that are new programs, submits them,
posts its best with the program and where it started from, and builds on programs other agents posted."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from aarlab.agents.evolve import BASELINES, EvolveAgent, Program, program_of_post, random_program, retune_of
from aarlab.agents.evolve._agent import Migrant
from aarlab.campaign._setup import server_dir
from aarlab.server import open_state
from aarlab.server._db import posts
from aarlab.suites import Suite
from tests.agents.sandbox.conftest import needs_bwrap

pytestmark = needs_bwrap


@dataclass
class Run:
    state: Path
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def evolve_run(tiny_suite: Suite) -> Iterator[Run]:
    root = Path(tempfile.mkdtemp(prefix="aare-"))  # short: a Unix socket path is limited to 108 bytes
    state = root / "c"
    try:
        result = subprocess.run([sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--agents", "2",
                                 "--agent", "evolve", "--minutes", "1.5", "--budget", "40", "--trial-timeout", "90",
                                 "--state", str(state), "--home", str(tiny_suite.home), "--quiet"],
                                capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
        yield Run(state, result)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _population(state: Path, name: str) -> list[dict]:
    path = state / "agents" / name / "population.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_each_agent_writes_evaluates_and_submits_method_files_beyond_the_baselines(evolve_run: Run) -> None:
    assert evolve_run.result.returncode == 0, evolve_run.result.stdout[-3000:] + evolve_run.result.stderr[-3000:]
    lines = evolve_run.result.stdout.splitlines()
    found = [line for line in lines if line.startswith(("best new method: evolve-", "nominated new method at the top"))]
    assert len(found) == 1 and "methods/evolved-p" in found[0], evolve_run.result.stdout[-2000:]
    for name in ("evolve-1", "evolve-2"):
        population = _population(evolve_run.state, name)
        assert len({c["id"] for c in population}) >= 2, population
        assert population[0]["origin"] == "baseline" and retune_of(Program(**population[0]["program"])) == "vanilla"
        new = [c for c in population if retune_of(Program(**c["program"])) is None]
        assert any(c["value"] is not None for c in new), population  # the last may be cut off by the deadline
        methods = evolve_run.state / "agents" / name / "workspace" / "methods"
        for candidate in population:  # every candidate is an ordinary method file, recording its program
            source = (methods / f"evolved-{candidate['id']}.py").read_text()
            assert "@method(" in source and f'Program: {json.dumps(candidate["program"], separators=(",", ":"))}' \
                in source


def test_the_best_programs_are_posted_with_their_program_snapshot_and_origin(evolve_run: Run) -> None:
    opened = open_state(server_dir(evolve_run.state))
    try:
        with opened.db.reader.connect() as conn:
            rows = conn.execute(select(posts).where(posts.c.kind == "result")).mappings().all()
    finally:
        opened.db.dispose()
    assert rows and all(r["snapshot_id"] and r["verified_public_pgr"] is not None for r in rows)
    for row in (r for r in rows if "Nominated for promotion" in r["body"]):  # a new program, promotable
        program = program_of_post(SimpleNamespace(body=row["body"]))  # type: ignore[arg-type]
        assert program is not None and retune_of(program) is None and "nominated" in row["tags"]
    for name in ("evolve-1", "evolve-2"):  # each agent's best new program is linked to a snapshot (posted)
        latest = {c["id"]: c for c in _population(evolve_run.state, name)}
        new = [c for c in latest.values() if c["value"] is not None and retune_of(Program(**c["program"])) is None]
        if new:
            top = max(c["value"] for c in new)
            assert any(c["snapshot"] for c in new if c["value"] == top), latest
    for row in rows:
        program = program_of_post(SimpleNamespace(body=row["body"]))  # type: ignore[arg-type]
        assert program is not None and f"program `{program.id}`" in row["body"]
        assert "It started from" in row["body"] or "a starting point of the search" in row["body"]


def test_a_program_posted_by_another_agent_is_mutated_or_recombined_and_cited(evolve_run: Run) -> None:
    agent = EvolveAgent(evolve_run.state, "evolve-1", log=lambda _m: None)
    posted = Program(targets="sharpened", temperature=0.3, select="confident", threshold=0.7)
    agent.migrants.append(Migrant(random_program(random.Random(9)), "evolve-2", 0.95, 6, "other", "chat"))
    agent.migrants.append(Migrant(posted, "evolve-2", 0.9, 7, "snap-of-evolve-2", agent.dataset))
    agent.rng = random.Random(3)
    drawn = [agent._draw() for _ in range(60)]
    from_forum = [d for d in drawn if d[1].startswith("migrant")]
    assert from_forum, [d[1] for d in drawn]
    assert all(d[3] == "snap-of-evolve-2" and posted.id in d[2] for d in from_forum)
    assert any(d[1] == "mutation" for d in drawn)  # its own lineage goes on too
    agent.migrants = agent.migrants[:1]  # only a program posted on another dataset: a program runs on any
    assert any(d[1].startswith("migrant") and d[3] == "other" for d in (agent._draw() for _ in range(60)))


def test_a_fresh_agent_starts_from_vanilla_then_random_programs(evolve_run: Run, tmp_path: Path) -> None:
    state = tmp_path / "copy"
    shutil.copytree(evolve_run.state / "agents", state / "agents", ignore=shutil.ignore_patterns("*.sock"))
    shutil.copy(evolve_run.state / "campaign.json", state / "campaign.json")
    (state / "agents" / "evolve-1" / "population.jsonl").unlink()
    agent = EvolveAgent(state, "evolve-1", log=lambda _m: None)
    program, origin, parents, snapshot = agent.propose()
    assert (program, origin, parents, snapshot) == (BASELINES["vanilla"], "baseline", [], None)
    assert random_program(random.Random(0)).id != BASELINES["vanilla"].id


def test_parents_come_mostly_from_the_candidates_that_raised_the_ladder(evolve_run: Run) -> None:
    from aarlab.agents.evolve._agent import Candidate

    agent = EvolveAgent(evolve_run.state, "evolve-1", log=lambda _m: None)
    programs = [random_program(random.Random(i)) for i in range(5)]
    values = [0.2, 0.2, 0.5, 0.5, 0.4]  # ties read "not better by a step": only 0 and 2 raised the ladder
    agent.population = [Candidate(program=p.model_dump(), id=p.id, origin="random", parents=[], parent_snapshot=None,
                                  value=v) for p, v in zip(programs, values, strict=True)]
    assert [c.id for c in agent.records()] == [programs[0].id, programs[2].id]
    agent.rng = random.Random(0)
    picks = [agent._tournament().id for _ in range(200)]
    assert picks.count(programs[2].id) > 100  # the best known, most of the time
