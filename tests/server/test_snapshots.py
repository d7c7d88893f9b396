"""The code store on a real server (SQLite and PostgreSQL): push, pull, limits, and the audit chain."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from aarlab.cli import app
from aarlab.client import ForumClient, ScoringError
from aarlab.server import ServerSettings, open_state, verify_chain
from aarlab.server._db import audit_log
from tests.server.conftest import TEST_SETTINGS, RunningServer
from tests.server.helpers import auth, craft_tar


def _workspace(root: Path, marker: str) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "method.py").write_text(f"# {marker}\ndef run(ctx):\n    return {{}}\n")
    (root / "README.md").write_text(marker)
    return root


def _push(server: RunningServer, token: str, data: bytes, **params: str) -> httpx.Response:
    return httpx.post(server.url + "/api/v1/snapshots", content=data, params=params, timeout=30,
                      headers={"Content-Type": "application/gzip", **auth(token)})


def test_push_and_pull_round_trip_and_identical_content_is_one_snapshot_with_two_pushes(
        server: RunningServer, tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws", "round-trip")
    alice, bob = server.add_agent(name="snap-alice"), server.add_agent(name="snap-bob")
    with ForumClient(server.url, alice) as a, ForumClient(server.uds_url, bob) as b:
        first, second = a.push_directory(ws), b.push_directory(ws)
        assert first.id == second.id and len(first.id) == 64 and first.files == 2 and first.author == "snap-alice"
        info = b.snapshot(first.id)
        assert [p.author for p in info.pushes] == ["snap-alice", "snap-bob"]
        assert sorted(e.path for e in info.manifest) == ["README.md", "pkg/method.py"]
        b.pull(first.id, tmp_path / "copy")
    assert (tmp_path / "copy" / "pkg" / "method.py").read_text() == (ws / "pkg" / "method.py").read_text()


def test_json_uploads_take_a_parent_and_every_push_is_in_the_audit_chain(server: RunningServer) -> None:
    token = server.add_agent()
    files = [{"path": "a.py", "content_b64": base64.b64encode(b"a = 1").decode()}]
    with ForumClient(server.url, token) as client:
        base = client._call("POST", "/api/v1/snapshots", json={"files": files})
        files.append({"path": "b.py", "content_b64": base64.b64encode(b"b = 2").decode()})
        child = client._call("POST", "/api/v1/snapshots", json={"files": files, "parent": base["id"]})
        assert child["parent"] == base["id"] and child["id"] != base["id"]
        with pytest.raises(ScoringError) as err:
            client._call("POST", "/api/v1/snapshots", json={"files": files, "parent": "f" * 64})
        assert err.value.status == 422 and "parent" in err.value.message
    opened = open_state(server.state)
    try:
        with opened.db.reader.connect() as conn:
            actions = [r.action for r in conn.execute(audit_log.select())]
        assert actions.count("snapshot.push") >= 2 and verify_chain(opened.db).ok
    finally:
        opened.db.dispose()


@pytest.mark.parametrize(("entry", "status", "says"), [
    (("../../etc/cron.d/evil", "file", "x"), 422, "'..'"),
    (("/abs/evil.py", "file", "x"), 422, "absolute"),
    (("escape", "symlink", "/etc"), 422, "symlink"),
    (("hard", "hardlink", "../../outside"), 422, "hard link"),
])
def test_unsafe_archives_are_refused_naming_the_entry(server: RunningServer, entry: tuple[str, str, str],
                                                      status: int, says: str) -> None:
    token = server.add_agent()
    response = _push(server, token, craft_tar(("ok.py", "file", "fine"), entry))
    assert response.status_code == status and says in response.json()["detail"]
    assert repr(entry[0]) in response.json()["detail"]


def test_oversized_snapshots_are_refused_with_413(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    small = ServerSettings(**{**TEST_SETTINGS.model_dump(), "max_snapshot_bytes": 4096,
                              "snapshot_max_file_bytes": 1000})
    running: RunningServer = make_server(small)
    token = running.add_agent()
    big_file = _push(running, token, craft_tar(("weights.bin", "file", b"\0" * 2000)))
    assert big_file.status_code == 413 and "'weights.bin'" in big_file.json()["detail"]
    big_body = _push(running, token, craft_tar(("noise.bin", "file", __import__("os").urandom(8000))))
    assert big_body.status_code == 413 and "max_snapshot_bytes" in big_body.json()["detail"]
    assert not any((running.state / "store").rglob("*.json"))  # nothing was recorded


def test_wrong_content_type_and_unknown_ids_are_explained(server: RunningServer) -> None:
    token = server.add_agent()
    response = httpx.post(server.url + "/api/v1/snapshots", content=b"x", timeout=30,
                          headers={"Content-Type": "text/plain", **auth(token)})
    assert response.status_code == 415 and "application/gzip" in response.json()["detail"]
    for path in ("/api/v1/snapshots/" + "0" * 64, "/api/v1/snapshots/..%2F..%2Fetc/archive"):
        assert httpx.get(server.url + path, headers=auth(token)).status_code == 404


def test_cli_push_prints_only_the_id_and_pull_writes_the_files(server: RunningServer, tmp_path: Path) -> None:
    token = server.add_agent()
    ws = _workspace(tmp_path / "ws", "cli")
    runner = CliRunner()
    pushed = runner.invoke(app, ["snapshot", "push", str(ws), "--server", server.url, "--token", token])
    assert pushed.exit_code == 0, pushed.output
    lines = pushed.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) == 64
    pulled = runner.invoke(app, ["snapshot", "pull", lines[0], str(tmp_path / "out"), "--server", server.uds_url],
                           env={"AARLAB_TOKEN": token})
    assert pulled.exit_code == 0, pulled.output
    assert (tmp_path / "out" / "README.md").read_text() == "cli"
