"""The evolve researcher in a real campaign on tiny: it writes method files that are new programs, submits them,
posts its best with the program and where it started from, and builds on programs other agents posted."""

from __future__ import annotations

import json
import os
import random
import re
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
from aarlab.agents.evolve._agent import TEACHER_AGREEMENT, Candidate, Migrant
from aarlab.campaign._setup import server_dir
from aarlab.server import open_state
from aarlab.server._db import posts, snapshot_pushes
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
            pushes = {(sid, parent) for sid, parent in
                      conn.execute(select(snapshot_pushes.c.snapshot_id, snapshot_pushes.c.parent))}
    finally:
        opened.db.dispose()
    assert rows and all(r["snapshot_id"] and r["verified_public_pgr"] is not None for r in rows)
    for row in (r for r in rows if "Nominated for promotion" in r["body"]):  # a new program, promotable
        program = program_of_post(SimpleNamespace(body=row["body"]))  # type: ignore[arg-type]
        assert program is not None and retune_of(program) is None and "nominated" in row["tags"]
    screened = []
    for name in ("evolve-1", "evolve-2"):  # each agent's best new program that learns from the teacher is posted
        latest = {c["id"]: c for c in _population(evolve_run.state, name)}
        screened += [c for c in latest.values() if c.get("shuffled_agreement") is not None]
        new = [c for c in latest.values() if c["value"] is not None and retune_of(Program(**c["program"])) is None
               and (c.get("shuffled_agreement") or 0.0) < TEACHER_AGREEMENT]
        if new:
            top = max(c["value"] for c in new)
            assert any(c["snapshot"] for c in new if c["value"] == top), latest
        for c in latest.values():  # nothing posted was seen to ignore the teacher
            assert not (c["snapshot"] and (c.get("shuffled_agreement") or 0.0) >= TEACHER_AGREEMENT), c
    assert all(0.0 <= c["shuffled_agreement"] <= 1.0 for c in screened), screened
    for name in ("evolve-1", "evolve-2"):  # every shuffled-label control that ran in the sandbox worked
        transcript = [json.loads(line) for line in
                      (evolve_run.state / "agents" / name / "transcript.jsonl").read_text().splitlines()]
        controls = {e["id"] for e in transcript if e.get("type") == "tool_call"
                    and e.get("input", {}).get("weak_labels") == "shuffled"}
        assert not [e for e in transcript if e.get("id") in controls and e.get("type") == "tool_result"
                    and e.get("is_error") and "no limit hit" in e.get("output", "")], transcript[-5:]
    for row in rows:
        program = program_of_post(SimpleNamespace(body=row["body"]))  # type: ignore[arg-type]
        assert program is not None and f"program `{program.id}`" in row["body"]
        assert "It started from" in row["body"] or "a starting point of the search" in row["body"]
        cited = re.search(r"of snapshot `([0-9a-f]{64})`", row["body"])
        if cited:  # the snapshot it started from is recorded as its snapshot's parent in the code store
            assert (row["snapshot_id"], cited.group(1)) in pushes, row["body"]


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


def _agent_copy(evolve_run: Run, tmp_path: Path) -> EvolveAgent:
    state = tmp_path / "copy"
    shutil.copytree(evolve_run.state / "agents", state / "agents", ignore=shutil.ignore_patterns("*.sock"))
    shutil.copy(evolve_run.state / "campaign.json", state / "campaign.json")
    return EvolveAgent(state, "evolve-1", log=lambda _m: None)


def test_a_program_whose_predictions_survive_shuffled_weak_labels_is_neither_posted_nor_a_parent(
        evolve_run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aarlab.agents.evolve._agent import SHUFFLED_PREDICTIONS, Candidate, hard_agreement, read_population

    agent = _agent_copy(evolve_run, tmp_path)
    ids = [f"x{i}" for i in range(10)]
    real = {i: n % 3 == 0 for n, i in enumerate(ids)}
    runs: list[list[str]] = []

    def shuffled_run(flip: int):  # type: ignore[no-untyped-def]
        def exec_trial(what: list[str], *_a: object, out_name: str = "", **_k: object) -> Path:
            runs.append(what)
            path = agent.layout.workspace / out_name
            path.write_text("".join(json.dumps({"id": i, "p": float(real[i] != (n < flip))}) + "\n"
                                    for n, i in enumerate(ids)))
            return path
        return exec_trial

    programs = [random_program(random.Random(i)) for i in range(3)]
    made = [Candidate(program=p.model_dump(), id=p.id, origin="mutation", parents=[], parent_snapshot=None,
                      value=v) for p, v in zip(programs, [0.9, 0.5, 0.4], strict=True)]
    agent.population = list(made)
    for c in made:
        agent._hard[c.id] = real
    monkeypatch.setattr(agent, "exec_trial", shuffled_run(flip=1))  # 90% the same without the teacher's labels
    assert not agent.learns_from_teacher(made[0], 60)
    assert runs[-1][-2:] == ["--weak-labels", "shuffled"] and SHUFFLED_PREDICTIONS
    assert made[0].shuffled_agreement == 0.9 and made[0].ignores_teacher
    assert made[0] not in agent.scored() and made[0] not in agent.records() and agent.best() is made[1]
    again = {c.id: c for c in read_population(agent.population_file)}
    assert again[made[0].id].shuffled_agreement == 0.9  # recorded for a resumed agent

    monkeypatch.setattr(agent, "exec_trial", shuffled_run(flip=5))  # half of them move: it uses the teacher
    assert agent.learns_from_teacher(made[1], 60) and made[1].shuffled_agreement == 0.5
    calls = len(runs)
    baseline = Candidate(program=BASELINES["vanilla"].model_dump(), id=BASELINES["vanilla"].id, origin="baseline",
                         parents=[], parent_snapshot=None, value=0.3)
    agent._hard[baseline.id] = real
    unknown = Candidate(program=programs[2].model_dump(), id="not-run-here", origin="mutation", parents=[],
                        parent_snapshot=None, value=0.4)
    assert agent.learns_from_teacher(baseline, 60) and agent.learns_from_teacher(unknown, 60)
    assert agent.learns_from_teacher(made[2], 2)  # no time left for the control: not judged
    assert len(runs) == calls and made[2].shuffled_agreement is None
    monkeypatch.setattr(agent, "exec_trial", lambda *_a, **_k: None)  # the control failed: not judged
    assert agent.learns_from_teacher(made[2], 60) and made[2].shuffled_agreement is None
    assert hard_agreement({"a": True}, {"b": True}) is None


def test_the_campaign_findings_skip_a_program_that_ignores_the_teacher(tmp_path: Path) -> None:
    from dataclasses import asdict

    from aarlab.agents.evolve._agent import Candidate, findings

    vanilla, honest, ignoring = BASELINES["vanilla"], random_program(random.Random(1)), random_program(random.Random(2))
    rows = [Candidate(program=vanilla.model_dump(), id=vanilla.id, origin="baseline", parents=[],
                      parent_snapshot=None, value=0.5, t=1.0),
            Candidate(program=honest.model_dump(), id=honest.id, origin="random", parents=[], parent_snapshot=None,
                      value=0.8, t=2.0, shuffled_agreement=0.55),
            Candidate(program=ignoring.model_dump(), id=ignoring.id, origin="mutation", parents=[honest.id],
                      parent_snapshot=None, value=0.95, t=3.0, shuffled_agreement=0.97)]
    agent_dir = tmp_path / "agents" / "evolve-1"
    agent_dir.mkdir(parents=True)
    (agent_dir / "population.jsonl").write_text("".join(json.dumps(asdict(c)) + "\n" for c in rows))
    lines = findings(tmp_path)
    assert f"program {honest.id}" in lines[0] and "public PGR 0.80" in lines[0] and ignoring.id not in lines[0]
    assert "1 program(s) were set aside" in lines[1]


def test_a_program_started_from_a_posted_snapshot_is_pushed_with_that_snapshot_as_its_parent(evolve_run: Run) -> None:
    agent = EvolveAgent(evolve_run.state, "evolve-1", log=lambda _m: None)
    program = random_program(random.Random(5))
    candidate = Candidate(program=program.model_dump(), id=program.id, origin="migrant-mutation", parents=["p0"],
                          parent_snapshot="a" * 64, value=0.9)
    calls: list[tuple[tuple, dict]] = []
    agent.post_result = lambda *args, **kwargs: calls.append((args, kwargs)) or "b" * 64  # type: ignore[method-assign]
    receipt = SimpleNamespace(public_pgr=0.9, public_transfer_acc=0.95)
    agent.publish_program(None, candidate, receipt)  # type: ignore[arg-type]
    [(args, kwargs)] = calls
    assert kwargs["parent"] == "a" * 64 and "builds-on-forum" in args[3] and f"`{'a' * 64}`" in args[2]  # tags, body
    assert candidate.snapshot == "b" * 64


def test_a_nomination_post_does_not_claim_the_top_level_as_its_own_score(evolve_run: Run) -> None:
    agent = EvolveAgent(evolve_run.state, "evolve-1", log=lambda _m: None)
    program = random_program(random.Random(6))
    calls: list[tuple[tuple, dict]] = []
    agent.post_result = lambda *args, **kwargs: calls.append((args, kwargs)) or "c" * 64  # type: ignore[method-assign]
    receipt = SimpleNamespace(public_pgr=1.3, public_transfer_acc=0.97)
    for nominated in (False, True):
        candidate = Candidate(program=program.model_dump(), id=program.id, origin="mutation", parents=["p0"],
                              parent_snapshot=None, value=1.3)
        agent.publish_program(None, candidate, receipt, nominated=nominated)  # type: ignore[arg-type]
    (best, _), (nomination, _) = calls
    assert best[1].endswith("-> public PGR 1.3") and "reached public PGR 1.3" in best[2]
    assert "nominated for promotion" in nomination[1] and "not separated by the Ladder" in nomination[1]
    assert "reached public PGR" not in nomination[2] and "only the promotion's private re-run" in nomination[2]
    assert "nominated" in nomination[3] and "nominated" not in best[3]
