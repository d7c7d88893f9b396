"""The scoring service over HTTPS for agents on other nodes: ``server start --tls-cert/--tls-key`` and a campaign on
an in-process Ray cluster whose node-side forwarder checks the service's self-signed certificate."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from aarlab.server import ServerSettings, StateError, listen
from aarlab.suites import Suite
from tests.agents.sandbox.conftest import needs_bwrap


def _self_signed(folder: Path, ip: str = "127.0.0.1") -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificate)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={ip}",
                    "-addext", f"subjectAltName=IP:{ip}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_tls_needs_a_tcp_port_only_and_a_readable_pair(tmp_path: Path, fake_state: Path) -> None:
    cert, key = _self_signed(tmp_path)
    settings = ServerSettings()
    with pytest.raises(StateError, match="served on the TCP --port only"):
        listen(fake_state, settings, port=0, uds=tmp_path / "s.sock", tls=(cert, key))
    with pytest.raises(StateError, match="does not exist"):
        listen(fake_state, settings, port=0, tls=(tmp_path / "none.pem", key))
    with pytest.raises(StateError, match="cannot use the TLS certificate"):
        listen(fake_state, settings, port=0, tls=(key, key))
    listener = listen(fake_state, settings, port=0, tls=(cert, key))
    assert listener.urls[0].startswith("https://127.0.0.1:")
    for sock in listener.sockets:
        sock.close()


@pytest.fixture
def fake_state(tmp_path: Path) -> Path:
    from aarlab.server import init_state
    from tests.server.fakesuite import SUITE, write_fake_suite

    home = write_fake_suite(tmp_path / "home")
    init_state(tmp_path / "state", suite=SUITE, home=home).db.dispose()
    return tmp_path / "state"


@needs_bwrap
def test_a_cluster_campaign_reaches_its_service_over_https(tiny_suite: Suite) -> None:
    root = Path(tempfile.mkdtemp(prefix="atls-"))
    try:
        cert, key = _self_signed(root)
        state = root / "c"
        result = subprocess.run(
            [sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--agents", "1", "--minutes",
             "0.8", "--budget", "10", "--state", str(state), "--home", str(tiny_suite.home), "--quiet", "--cluster",
             "local", "--tls-cert", str(cert), "--tls-key", str(key), "--checkpoint-every", "3"],
            capture_output=True, text=True, timeout=400, env={**os.environ, "COLUMNS": "200"})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        info = json.loads((state / "campaign.json").read_text())
        assert info["cluster"]["service_url"].startswith("https://127.0.0.1:")
        transcript = (state / "agents" / "search-1" / "transcript.jsonl").read_text()
        assert re.search(r"submission sub_[0-9a-f]+: public PGR", transcript), transcript[-2000:]
        assert not (state / "scoring.sock").exists()  # the service served HTTPS only
    finally:
        shutil.rmtree(root, ignore_errors=True)
