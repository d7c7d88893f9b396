"""Fixtures: a fake built suite, a throwaway PostgreSQL cluster, and real scoring servers on loopback + a socket.

Integration tests take ``backend`` (parametrised: SQLite, and PostgreSQL when its binaries are on the machine)
and get a server started in a thread of the test process on 127.0.0.1 (free port) and on a Unix socket.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from aarlab.client import ScoringClient
from aarlab.server import ServerSettings, add_agent, init_state, listen, read_admin_token
from tests.server.fakesuite import SUITE, fake_labels, fake_test_ids, write_fake_suite
from tests.server.pg import PostgresCluster

#: Settings for the shared servers: budgets and rates that tests lower per agent or per server where they matter.
#: The Ladder is the deterministic one (a wide step, no perturbation) so that tests of other things can predict
#: scores, with no information budget (tests of the budget set their own); tests/server/test_attack.py runs the
#: default Ladder (small step, keyed perturbation, information budget).
TEST_SETTINGS = ServerSettings(default_budget=20, rate_per_s=1000, rate_burst=1000, max_body_bytes=64 * 1024,
                               ladder_z=4.0, ladder_noise=0.0, ladder_bits=None)


@pytest.fixture(scope="session")
def fake_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An aarlab home with the fake suite built: math (binary) and chat (comparison), 200 test examples each."""
    return write_fake_suite(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Callable[[], str | None]:
    """A factory of fresh database URLs (None: SQLite in the state dir)."""
    if request.param == "sqlite":
        return lambda: None
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database


@dataclass
class RunningServer:
    """A real server: its URLs (TCP and Unix socket), state dir and admin token."""

    state: Path
    home: Path
    url: str
    uds_url: str
    admin_token: str
    stop: Callable[[], None]
    _names: Iterator[int] = field(default_factory=itertools.count)

    def add_agent(self, budget: int | None = None, name: str | None = None) -> str:
        """A new agent's token."""
        return add_agent(self.state, name or f"agent{next(self._names)}", budget)

    def client(self, token: str, *, uds: bool = False) -> ScoringClient:
        """A client over TCP (or the Unix socket)."""
        return ScoringClient(self.uds_url if uds else self.url, token)

    def ids(self, dataset: str) -> list[str]:
        """Test ids of a dataset."""
        return fake_test_ids(self.home, dataset)

    def labels(self, dataset: str) -> dict[str, bool]:
        """Ground truth (only tests may look)."""
        return fake_labels(self.home, dataset)


def wait_ready(url: str, timeout: float = 30.0) -> None:
    """Poll /openapi.json until the server answers (no timing assertion: only a bound on waiting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server at {url} did not come up within {timeout} s")
        time.sleep(0.05)


def start_server(home: Path, state: Path, db_url: str | None, settings: ServerSettings) -> RunningServer:
    """Initialize a state dir and serve it from a thread on 127.0.0.1 and a Unix socket."""
    init_state(state, suite=SUITE, home=home, db_url=db_url).db.dispose()
    return serve_state(home, state, settings)


def serve_state(home: Path, state: Path, settings: ServerSettings) -> RunningServer:
    """Serve an initialized state dir (again: after a stop, with other settings) from a thread."""
    sock_dir = Path(tempfile.mkdtemp(prefix="aar"))  # short path: sun_path is limited to 108 bytes
    listener = listen(state, settings, port=0, uds=sock_dir / "s.sock")
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    wait_ready(listener.urls[0])

    def stop() -> None:
        listener.server.should_exit = True
        thread.join(timeout=30)
        shutil.rmtree(sock_dir, ignore_errors=True)

    return RunningServer(state, home, listener.urls[0], listener.urls[1], read_admin_token(state), stop)


@pytest.fixture(scope="module")
def server(backend: Callable[[], str | None], fake_home: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server shared by a test module (tests create their own agents)."""
    running = start_server(fake_home, tmp_path_factory.mktemp("state"), backend(), TEST_SETTINGS)
    yield running
    running.stop()


@pytest.fixture
def make_server(backend: Callable[[], str | None], fake_home: Path,
                tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start a fresh server with given settings (stopped after the test)."""
    started: list[RunningServer] = []

    def make(settings: ServerSettings = TEST_SETTINGS) -> RunningServer:
        running = start_server(fake_home, tmp_path / f"state{len(started)}", backend(), settings)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()
