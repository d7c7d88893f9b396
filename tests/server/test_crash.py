"""Crash durability: SIGKILL the server under load, restart it, and find every acknowledged submission."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from aarlab.client import ScoringClient, ScoringError
from aarlab.server import add_agent, init_state, open_state, read_admin_token, verify_chain
from tests.server.conftest import wait_ready
from tests.server.fakesuite import SUITE, fake_test_ids

CLI = [sys.executable, "-c", "from aarlab.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_subprocess_server(state: Path, home: Path, db_url: str | None, port: int) -> subprocess.Popen[bytes]:
    """`aarlab server start` in its own process (generous budget and rate for load)."""
    config = state.parent / "load.toml"
    config.write_text("default_budget = 100000\nrate_per_s = 100000\nrate_burst = 100000\n")
    args = [*CLI, "server", "start", "--init", "--state", str(state), "--suite", SUITE, "--home", str(home),
            "--port", str(port), "--config", str(config)] + (["--db", db_url] if db_url else [])
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(f"http://127.0.0.1:{port}")
    except RuntimeError:
        proc.kill()
        raise RuntimeError(f"server did not start: {proc.communicate()[1].decode()[-2000:]}") from None
    return proc


def test_every_acknowledged_submission_survives_a_sigkill_and_the_chain_verifies(
        backend: Callable[[], str | None], fake_home: Path, tmp_path: Path) -> None:
    state, db_url = tmp_path / "state", backend()
    init_state(state, suite=SUITE, home=fake_home, db_url=db_url).db.dispose()
    tokens = [add_agent(state, f"crash{i}") for i in range(4)]
    url = f"http://127.0.0.1:{_free_port()}"
    proc = start_subprocess_server(state, fake_home, db_url, int(url.rsplit(":", 1)[1]))
    ids = fake_test_ids(fake_home, "math")
    acked: dict[str, str] = {}
    lock = threading.Lock()

    def agent(token: str, k: int) -> None:
        with ScoringClient(url, token, timeout=10) as client:
            for n in range(200):
                try:
                    receipt = client.submit("math", {i: (n * 7 + k) % 100 / 100 for i in ids})
                except ScoringError:
                    return  # the server is gone
                with lock:
                    acked[receipt.id] = receipt.receipt

    threads = [threading.Thread(target=agent, args=(t, k)) for k, t in enumerate(tokens)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests are in flight
    proc.wait()
    for t in threads:
        t.join(timeout=60)
    assert len(acked) >= 40, "the load never got going"

    proc = start_subprocess_server(state, fake_home, db_url, int(url.rsplit(":", 1)[1]))
    try:
        with ScoringClient(url, read_admin_token(state)) as admin:
            stored = {s.id: s.receipt for s in admin.submissions()}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert {k: stored.get(k) for k in acked} == acked
    opened = open_state(state)
    try:
        assert verify_chain(opened.db).ok
    finally:
        opened.db.dispose()
