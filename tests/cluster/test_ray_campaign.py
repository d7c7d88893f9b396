"""A campaign across a real three-node Ray cluster on loopback, with its state on a real S3-compatible server and
its service's database on a real PostgreSQL; one worker node is killed mid-campaign.

One scenario (module fixture, about four minutes on 2 cores): ``ray start --head`` plus two worker nodes with
distinct custom resources; ``campaign run --cluster`` with 4 search agents on tiny (all at once: the default
concurrency on a cluster), each asking for one
``agent_slot`` (only the workers have them); once every agent on node A has submitted, node A is SIGKILLed with all
its processes. The tests then read what the head, the storage and the server hold.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from aarlab.campaign._setup import server_dir
from aarlab.server import open_state
from aarlab.server._db import submissions
from aarlab.suites import Suite
from tests.agents.sandbox.conftest import needs_bwrap
from tests.cluster.raycluster import RayCluster, RayUnavailable, start_cluster
from tests.cluster.s3 import BUCKET, S3Server
from tests.server.pg import PostgresCluster

pytestmark = needs_bwrap
AGENTS = 4


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> Iterator[RayCluster]:
    """Head + two workers; every node has the storage's credentials in its environment, as a deployment gives them."""
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("ray"), {
            "node_a": (2, {"agent_slot": 4, "node_a": 1}),
            "node_b": (2, {"agent_slot": 4, "node_b": 1}),
        }, node_env=s3.env())
    except RayUnavailable as err:
        pytest.skip(f"Ray cluster tests skipped: {err}")
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Scenario:
    state: Path
    run: subprocess.CompletedProcess[str]
    node_a: str
    on_a: list[str]
    env: dict[str, str]
    storage: str


def _campaign(state: Path) -> dict[str, Any]:
    path = state / "campaign.json"
    return json.loads(path.read_text()) if path.is_file() else {"agents": []}


def _acknowledged(state: Path, name: str) -> list[str]:
    path = state / "agents" / name / "transcript.jsonl"
    return re.findall(r"submission (sub_[0-9a-f]+)", path.read_text()) if path.is_file() else []


def _wait(condition: Any, what: str, timeout: float, run: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if run.poll() is not None:
            raise AssertionError(f"the campaign ended (code {run.returncode}) while waiting for {what}:\n"
                                 + log.read_text()[-4000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n" + log.read_text()[-4000:])
        time.sleep(1)


@pytest.fixture(scope="module")
def scenario(tiny_suite: Suite, ray_cluster: RayCluster, s3: S3Server, postgres: PostgresCluster) -> Iterator[Scenario]:
    root = Path(tempfile.mkdtemp(prefix="aray-"))
    state = root / "c"
    env = {**ray_cluster.env(), **s3.env(), "COLUMNS": "200"}
    storage = f"s3://{BUCKET}/campaigns"
    argv = [sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--agents", str(AGENTS),
            "--minutes", "3.5", "--budget", "30", "--trial-timeout", "90", "--state", str(state),
            "--home", str(tiny_suite.home), "--quiet", "--cluster", ray_cluster.address, "--storage", storage,
            "--agent-cpus", "0.5", "--agent-resource", "agent_slot=1", "--checkpoint-every", "3",
            "--db", postgres.new_database()]
    log = root / "run.log"
    run = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True, env=env)
    try:
        node_a = ray_cluster.node_ids()["node_a"][:8]
        _wait(lambda: sum(bool(a.get("node")) for a in _campaign(state)["agents"]) == AGENTS,
              "every agent to be placed", 240, run, log)
        on_a = [a["name"] for a in _campaign(state)["agents"] if a["node"].endswith(node_a)]
        assert on_a, f"SPREAD placed no agent on node A: {_campaign(state)['agents']}"
        _wait(lambda: all(_acknowledged(state, n) for n in on_a), "node A's agents to submit", 240, run, log)
        ray_cluster.kill("node_a")
        run.wait(600)
        yield Scenario(state, subprocess.CompletedProcess(argv, run.returncode, log.read_text(), ""), node_a, on_a,
                       env, storage)
    finally:
        if run.poll() is None:
            run.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_the_campaign_finishes_with_one_summary_table(scenario: Scenario) -> None:
    assert scenario.run.returncode == 0, scenario.run.stdout[-3000:]
    assert scenario.run.stdout.count("campaign summary") == 1
    assert "Ray cluster: 3 node(s)" in scenario.run.stdout


def test_agents_of_the_lost_node_resumed_on_the_other_from_their_checkpoints(scenario: Scenario) -> None:
    agents = {a["name"]: a for a in _campaign(scenario.state)["agents"]}
    for name in scenario.on_a:
        record = agents[name]
        assert record["moves"] >= 1 and not record["node"].endswith(scenario.node_a), record
        assert record["restarts"] == 0 and record["state"] == "done", record  # a move is not a crash
        log = (scenario.state / "logs" / f"{name}.log").read_text()
        resumed = re.findall(r"(\d+) trials done before", log)
        assert resumed and int(resumed[-1]) >= 1, log  # its optuna study came back from the checkpoint
        assert f"{name}: its node" in scenario.run.stdout
    for name in set(agents) - set(scenario.on_a):
        assert agents[name]["moves"] == 0 and agents[name]["state"] == "done", agents[name]


def test_every_acknowledged_submission_is_stored_exactly_once(scenario: Scenario) -> None:
    state = open_state(server_dir(scenario.state))
    try:
        assert state.info.db_url.startswith("postgresql")
        with state.db.reader.connect() as conn:
            stored = dict(conn.execute(select(submissions.c.id, func.count()).group_by(submissions.c.id)).all())
    finally:
        state.db.dispose()
    assert stored and all(count == 1 for count in stored.values())
    for name in _campaign(scenario.state)["agents"]:
        acknowledged = _acknowledged(scenario.state, name["name"])
        assert acknowledged, name
        assert set(acknowledged) <= set(stored), name


def test_the_audit_chain_verifies(scenario: Scenario) -> None:
    result = subprocess.run([sys.executable, "-m", "aarlab", "audit", "verify", "--state",
                             str(server_dir(scenario.state))], capture_output=True, text=True, timeout=300,
                            env=scenario.env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_status_shows_where_each_agent_ran_and_how_often_it_moved(scenario: Scenario) -> None:
    result = subprocess.run([sys.executable, "-m", "aarlab", "campaign", "status", "--state", str(scenario.state),
                             "--json"], capture_output=True, text=True, timeout=120, env=scenario.env)
    assert result.returncode == 0, result.stderr
    status = {a["name"]: a for a in json.loads(result.stdout)["agents"]}
    assert len(status) == AGENTS and all(a["node"] and a["state"] == "done" for a in status.values())
    assert all(status[n]["moves"] >= 1 for n in scenario.on_a)


def test_no_label_ever_reaches_the_storage(scenario: Scenario, s3: S3Server) -> None:
    """Ground truth stays on the head: no archive in the bucket holds a labeled record or the server's state."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1", aws_access_key_id=s3.key_id,
                          aws_secret_access_key=s3.secret)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="campaigns/")["Contents"]]
    assert any(k.endswith("/suite.tar.gz") for k in keys) and any(k.endswith("/visible.tar.gz") for k in keys)
    for key in keys:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            for member in tar.getmembers():
                assert not member.name.startswith(("server", "data")), (key, member.name)
                if member.isfile() and member.name.endswith(".jsonl"):
                    text = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
                    assert all("label" not in json.loads(line) for line in text.splitlines() if line.strip()), \
                        (key, member.name)


FANOUT_SCRIPT = """
import json, sys
from pathlib import Path
from aarlab.cluster._fanout import ExperimentJob, FanoutSpec, pack_workspace
from aarlab.cluster._ray import RayFanout

args = json.loads(sys.argv[1])
workspace = Path(args["workspace"])
(workspace / "methods").mkdir(parents=True)
(workspace / "methods" / "mine.py").write_text(args["method"])
archive, _ = pack_workspace(workspace)
spec = FanoutSpec(**args["spec"])
jobs = [ExperimentJob(agent="fan", dataset="math", method="/workspace/methods/mine.py", seed=seed,
                      out=f"predictions/math-mine-s{seed}.jsonl", timeout_s=180, memory_mb=4096) for seed in (0, 1)]
results = RayFanout(spec).run(jobs, archive)
print(json.dumps([{"ok": r.ok, "node": r.node, "error": r.error, "exit": r.exit_code, "stderr": r.stderr[-2000:],
                   "lines": len((r.predictions or b"").splitlines())} for r in results]))
"""

FANOUT_METHOD = '''"""mine: hard weak labels."""
from aarlab.w2s.methods import MethodContext, method


@method("mine", "Train on rounded weak labels")
def run(ctx: MethodContext):
    return ctx.strong.train(ctx.unlabeled, ctx.weak_targets(hard=True), seed=ctx.seed).predict(ctx.test)
'''


def test_an_experiments_seeds_fan_out_as_ray_tasks_where_their_resources_are(scenario: Scenario,
                                                                             ray_cluster: RayCluster,
                                                                             tmp_path: Path) -> None:
    """Two seeds of a method file, as Ray tasks asking for ``node_b`` (the surviving worker): each runs in a
    sandbox there from the campaign's storage and brings its predictions back."""
    cluster = _campaign(scenario.state)["cluster"]
    spec = {"address": ray_cluster.address, "storage_url": scenario.storage, "campaign_id": cluster["campaign_id"],
            "suite": "tiny", "request": {"CPU": 1.0, "node_b": 0.5}, "threads": 1,
            "node_dir": str(tmp_path / "node")}
    args = {"workspace": str(tmp_path / "ws"), "method": FANOUT_METHOD, "spec": spec}
    result = subprocess.run([sys.executable, "-c", FANOUT_SCRIPT, json.dumps(args)], capture_output=True,
                            text=True, timeout=600, env=scenario.env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    node_b = ray_cluster.node_ids()["node_b"][:8]
    assert [r["ok"] for r in runs] == [True, True], runs
    assert all(r["node"].endswith(node_b) and r["lines"] > 10 for r in runs), runs
    test_rows = (scenario.state / "visible" / "math" / "test.jsonl").read_text().count("\n")
    assert all(r["lines"] == test_rows for r in runs), (runs, test_rows)
