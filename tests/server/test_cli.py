"""The server's commands as a user runs them: real subprocesses against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from aarlab.cli import app
from aarlab.server import open_state
from aarlab.server._db import audit_log
from tests.server.conftest import RunningServer

RECEIPT_KEYS = ["id", "dataset", "public_transfer_acc", "public_pgr", "remaining_budget", "receipt", "flags"]


def aarlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``aarlab ARGS`` in a subprocess."""
    return subprocess.run([sys.executable, "-c", "from aarlab.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def _predictions(path: Path, ids: list[str], p: float = 0.7) -> Path:
    path.write_text("".join(json.dumps({"id": i, "p": p}) + "\n" for i in ids))
    return path


def test_add_agent_prints_only_the_token_and_admin_token_prints_the_admin_token(server: RunningServer) -> None:
    added = aarlab("server", "add-agent", "cli-agent", "--state", str(server.state), "--budget", "4")
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("aar_")
    with server.client(lines[0]) as client:
        assert client.whoami().name == "cli-agent" and client.budget()[0].budget == 4
    admin = aarlab("server", "admin-token", "--state", str(server.state))
    assert admin.stdout.strip() == server.admin_token


def test_submit_prints_one_json_receipt_and_leaderboard_shows_it(server: RunningServer, tmp_path: Path) -> None:
    token = server.add_agent(name="cli-submitter")
    file = _predictions(tmp_path / "p.jsonl", server.ids("chat"))
    result = aarlab("submit", "--server", server.uds_url, "--token", token, "--dataset", "chat",
                    "--method", "cli", str(file))
    assert result.returncode == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert list(receipt) == RECEIPT_KEYS and receipt["dataset"] == "chat"
    board = aarlab("leaderboard", "--server", server.url, "--json", env={"AARLAB_TOKEN": token})
    rows = json.loads(board.stdout)["rows"]
    assert any(r["submission_id"] == receipt["id"] and r["method"] == "cli" for r in rows)
    table = aarlab("leaderboard", "--server", server.url, "--token", token)
    assert table.returncode == 0 and "cli-submitter" in table.stdout


def test_a_refused_submission_exits_nonzero_with_the_servers_message_and_the_file_line(
        server: RunningServer, tmp_path: Path) -> None:
    token = server.add_agent()
    file = _predictions(tmp_path / "p.jsonl", server.ids("math"))
    lines = file.read_text().splitlines()
    lines[4] = json.dumps({"id": server.ids("math")[4], "p": 1.5})
    file.write_text("\n".join(lines) + "\n")
    result = aarlab("submit", "--server", server.url, "--token", token, "--dataset", "math", str(file))
    assert result.returncode != 0 and result.stdout == ""
    assert "422" in result.stderr and f"{file}:5" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


def test_user_mistakes_give_one_line_errors_not_tracebacks(tmp_path: Path) -> None:
    for args in (["server", "add-agent", "x", "--state", str(tmp_path / "none")],
                 ["audit", "verify", "--state", str(tmp_path / "none")],
                 ["server", "start", "--state", str(tmp_path / "s"), "--config", str(tmp_path / "no.toml")],
                 ["submit", "--server", "ftp://x", "--token", "t", "--dataset", "math", str(tmp_path / "nope")],
                 ["leaderboard", "--server", "http://127.0.0.1:9", "--token", "t"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code != 0 and "error:" in result.stderr and result.exception is not None, args
        assert isinstance(result.exception, SystemExit), (args, result.exception)
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr  # one message (wrapped at most once)


def test_audit_verify_passes_then_reports_the_first_tampered_record(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    server = make_server()
    with server.client(server.add_agent()) as client:
        client.submit("math", {i: 0.5 for i in server.ids("math")})
    ok = aarlab("audit", "verify", "--state", str(server.state))
    assert ok.returncode == 0 and "intact" in ok.stdout
    state = open_state(server.state)
    with state.db.writer.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(action="agent.delete"))
    state.db.dispose()
    broken = aarlab("audit", "verify", "--state", str(server.state))
    assert broken.returncode == 1 and "broken at record 2" in broken.stderr


def test_finalize_on_the_state_dir_prints_the_final_table(make_server) -> None:  # noqa: ANN001
    server = make_server()
    with server.client(server.add_agent(name="fin")) as client:
        client.submit("math", {i: 0.9 for i in server.ids("math")})
    result = aarlab("server", "finalize", "--state", str(server.state), "--json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert table["rows"][0]["agent"] == "fin" and table["rows"][0]["private_transfer_acc"] is not None
    again = aarlab("server", "finalize", "--state", str(server.state))
    assert again.returncode != 0 and "already finalized" in again.stderr


def test_every_command_has_help() -> None:
    for args in (["server", "start"], ["server", "init"], ["server", "add-agent"], ["server", "admin-token"],
                 ["server", "finalize"], ["submit"], ["leaderboard"], ["audit", "verify"]):
        result = CliRunner().invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args


def test_start_refuses_a_missing_state_dir_and_creates_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["server", "start", "--state", str(tmp_path / "typo"), "--port", "9"])
    assert result.exit_code == 2 and "aarlab server init" in result.stderr and "--init" in result.stderr
    assert not (tmp_path / "typo").exists()


def test_audit_verify_on_a_copied_state_dir_checks_the_copy(fake_home: Path, tmp_path: Path) -> None:
    import shutil

    from aarlab.server import add_agent, init_state
    from tests.server.fakesuite import SUITE

    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    add_agent(tmp_path / "s", "alice")
    shutil.copytree(tmp_path / "s", tmp_path / "copy")
    state = open_state(tmp_path / "copy")
    with state.db.writer.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(action="agent.delete"))
    state.db.dispose()
    assert aarlab("audit", "verify", "--state", str(tmp_path / "s")).returncode == 0  # the original is untouched
    broken = aarlab("audit", "verify", "--state", str(tmp_path / "copy"))
    assert broken.returncode == 1 and "broken at record 2" in broken.stderr


def test_start_serves_the_suite_its_state_dir_holds_without_being_told(fake_home: Path, tmp_path: Path) -> None:
    """`server start --state S` on a state initialized for another suite than tiny: no --suite needed."""
    import socket
    import time

    import httpx

    from aarlab.server import init_state
    from tests.server.fakesuite import SUITE

    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from aarlab.cli import main; main()", "server", "start",
                             "--state", str(tmp_path / "s"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "AARLAB_HOME": str(fake_home)})
    try:
        deadline, answered = time.monotonic() + 60, None
        while answered is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/api/v1/leaderboard", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert answered == 401, proc.stderr.read() if proc.poll() is not None else "no answer"  # up, asks a token
    finally:
        proc.terminate()
        proc.wait(timeout=30)
