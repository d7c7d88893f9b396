"""``campaign run --cluster`` fails fast, naming the problem, and leaves nothing behind: no campaign dir, no Ray."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aarlab.campaign._cluster import parse_memory, parse_resources
from aarlab.campaign._state import CampaignError
from tests.cluster.s3 import BUCKET, S3Server


def _run(state: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aarlab", "campaign", "run", "--state", str(state), "--minutes", "1",
                           "--agents", "1", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "COLUMNS": "250", **(env or {})})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_processes() -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "raylet" in line or "gcs_server" in line]


@pytest.mark.parametrize(("args", "message"), [
    (["--storage", "s3://b/x"], "--storage only apply with --cluster"),
    (["--agent-gpus", "1", "--agent-resource", "a=1"], "--agent-gpus, --agent-resource only apply with --cluster"),
    (["--cluster", "nonsense"], "expected HOST:PORT of a Ray head"),
    (["--cluster", "local", "--agent-memory", "12XB"], "--agent-memory '12XB': expected bytes or a size"),
    (["--cluster", "local", "--agent-resource", "slot"], "--agent-resource 'slot': expected NAME=AMOUNT"),
    (["--cluster", "local", "--agent-resource", "GPU=1"], "use --agent-cpus/--agent-gpus/--agent-memory for GPU"),
    (["--experiment-cpus", "2", "--experiment-resource", "a=1"],
     "--experiment-cpus, --experiment-resource only apply with --cluster"),
    (["--node-dir", "/srv/aarlab"], "--node-dir only apply with --cluster"),
    (["--cluster", "local", "--node-dir", "rel/dir"], "--node-dir 'rel/dir': give an absolute path"),
    (["--cluster", "local", "--experiment-memory", "lots"], "--experiment-memory 'lots': expected bytes or a size"),
    (["--cluster", "local", "--experiment-resource", "CPU=1"],
     "use --experiment-cpus/--experiment-gpus/--experiment-memory for CPU"),
])
def test_bad_cluster_options_are_refused_before_anything_is_written(tmp_path: Path, args: list[str],
                                                                     message: str) -> None:
    result = _run(tmp_path / "c", *args)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "c").exists()


def test_an_unreachable_cluster_fails_within_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _run(tmp_path / "c", "--cluster", f"127.0.0.1:{_closed_port()}")
    assert result.returncode == 2
    assert "no Ray head answers there" in result.stderr
    assert time.monotonic() - started < 60  # Ray's own connect retries for minutes
    assert not (tmp_path / "c").exists()


def test_a_request_no_node_can_hold_is_refused_and_the_local_cluster_stopped(tmp_path: Path) -> None:
    before = _ray_processes()
    result = _run(tmp_path / "c", "--cluster", "local", "--agent-gpus", "4", "--agent-resource", "nope=1")
    assert result.returncode == 2, result.stderr
    text = " ".join(result.stderr.split())
    assert "no node of the Ray cluster can hold one agent's request" in text
    assert "GPU=4 (largest on any node: 0)" in text and "nope=1 (largest on any node: 0)" in text
    assert not (tmp_path / "c").exists()
    time.sleep(2)
    assert _ray_processes() == before  # the in-process cluster started for the check is gone


def test_an_experiment_request_no_node_can_hold_is_refused(tmp_path: Path) -> None:
    result = _run(tmp_path / "c", "--cluster", "local", "--experiment-gpus", "1", "--experiment-resource", "big=2")
    assert result.returncode == 2, result.stderr
    text = " ".join(result.stderr.split())
    assert "no node of the Ray cluster can hold one experiment's request" in text
    assert "GPU=1 (largest on any node: 0)" in text and "--experiment-cpus/--experiment-gpus" in text
    assert not (tmp_path / "c").exists()


def test_bad_storage_credentials_are_named_before_the_cluster_is_joined(tmp_path: Path, s3: S3Server) -> None:
    result = _run(tmp_path / "c", "--cluster", "local", "--storage", f"s3://{BUCKET}/x",
                  env=s3.env(AWS_SECRET_ACCESS_KEY="wrong"))
    assert result.returncode == 2
    text = " ".join(result.stderr.split())
    assert f"--storage: storage s3://{BUCKET}/x: cannot write" in text and "ignature" in text
    assert not (tmp_path / "c").exists()
    result = _run(tmp_path / "c", "--cluster", "local", "--storage", "s3://no-such-bucket/x", env=s3.env())
    assert result.returncode == 2 and "bucket does not exist" in result.stderr


def test_memory_and_resource_parsing() -> None:
    assert parse_memory("4GiB") == 4 * 2**30 and parse_memory("512MB") == 512e6 and parse_memory("2e9") == 2e9
    assert parse_resources(["node_a=1", "slot=0.5"]) == {"node_a": 1.0, "slot": 0.5}
    for bad in ("0", "-1GB", "lots"):
        with pytest.raises(CampaignError):
            parse_memory(bad)
    for bad_items in (["a=0"], ["=1"], ["a=b"]):
        with pytest.raises(CampaignError):
            parse_resources(bad_items)
