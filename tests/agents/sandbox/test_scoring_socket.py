"""The scoring service is reachable from the sandbox only through its bound Unix socket, as this agent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aarlab.agents.sandbox import BubblewrapSandbox, SandboxLimits
from tests.agents.sandbox.conftest import Host, needs_bwrap
from tests.server.conftest import TEST_SETTINGS, RunningServer, start_server
from tests.server.fakesuite import write_fake_suite

pytestmark = needs_bwrap

WHOAMI = ("import os\nfrom aarlab.client import ScoringClient\n"
          "with ScoringClient(os.environ['AARLAB_SERVER'], os.environ['AARLAB_TOKEN']) as c:\n"
          "    print(c.whoami().name)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = write_fake_suite(tmp_path_factory.mktemp("home"))
    running = start_server(home, tmp_path_factory.mktemp("state"), None, TEST_SETTINGS)
    yield running
    running.stop()


def _sandbox(host: Host, server: RunningServer, token: str) -> BubblewrapSandbox:
    socket_path = Path(server.uds_url.removeprefix("unix://"))
    return BubblewrapSandbox(host.workspace, scoring_socket=socket_path, token=token,
                             limits=SandboxLimits(wall_s=120))


def test_the_scoring_client_inside_reaches_the_server_as_this_agent(host: Host, server: RunningServer) -> None:
    token = server.add_agent(name="alice")
    server.add_agent(name="bob")
    result = _sandbox(host, server, token).exec(["python", "-c", WHOAMI])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "alice"


def test_curl_over_the_unix_socket_works_while_tcp_to_the_same_server_fails(host: Host,
                                                                             server: RunningServer) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed on this machine")
    sandbox = _sandbox(host, server, server.add_agent())
    via_socket = sandbox.exec(["curl", "-sf", "--unix-socket", "/run/aarlab/scoring.sock", "http://aarlab/openapi.json"])
    assert via_socket.exit_code == 0 and '"openapi"' in via_socket.stdout
    via_tcp = sandbox.exec(["curl", "-sf", "--max-time", "5", server.url + "/openapi.json"])
    assert via_tcp.exit_code != 0 and '"openapi"' not in via_tcp.stdout


def test_the_servers_state_dir_is_not_visible_beside_its_socket(host: Host, server: RunningServer) -> None:
    result = _sandbox(host, server, server.add_agent()).exec(["sh", "-c", f"ls /run/aarlab; ls {server.state}"])
    assert result.stdout.split() == ["scoring.sock"]
