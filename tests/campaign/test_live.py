"""What ``campaign run`` shows: the live view on a terminal, log lines into a pipe, ONE summary table at the end.

Unit tests render statuses with a recording console of width 100. Two real campaigns on the tiny suite (search
agents, sandboxes, a scoring service; about half a minute each) check the screen under a pseudo-terminal and the
log lines written into a pipe.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from rich.console import Console

from aarlab.campaign._live import SUMMARY_TITLE, change_lines, live_view, report_line, summary_table
from aarlab.campaign._state import AgentRecord, CampaignInfo, save_campaign
from aarlab.campaign._status import AgentStatus, CampaignStatus, FinalResult, campaign_status, latest_experiment
from aarlab.server import ServerSettings
from aarlab.suites import Suite
from tests.agents.sandbox.conftest import needs_bwrap
from tests.server.conftest import start_server
from tests.server.fakesuite import SUITE, write_fake_suite

LONG_DIRECTION = "optuna TPE seed 1000 on math, then exploit forum results and write a long notebook entry"


def agent(name: str, state: str = "running", **fields: object) -> AgentStatus:
    values: dict[str, object] = {"direction": LONG_DIRECTION, "best_public_pgr": 0.41, "cost_usd": 1.5,
                                 "submissions": 12, "experiment": "vanilla on math", "experiment_running": True,
                                 "promoted_pgr": 0.33, "flags": 2, "evaluations_left": 29, "experiments_left": 5,
                                 "usd_left": 3.5}
    return AgentStatus(name=name, state=state, **{**values, **fields})  # type: ignore[arg-type]


def campaign(*agents: AgentStatus, finalized: bool = False) -> CampaignStatus:
    return CampaignStatus(best_public_pgr=0.41, agents=list(agents), time_left_s=192.0,
                          dashboard_url="http://127.0.0.1:8765/", finalized_at="2026-01-01T00:00:00" if finalized
                          else None)


def rendered(renderable: object, width: int = 100) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def test_the_live_view_shows_state_experiment_scores_flags_budget_and_dashboard_in_100_columns() -> None:
    status = campaign(agent("search-1"), agent("search-2", "crashed", experiment_running=False, flags=0,
                                               promoted_pgr=None, usd_left=None, experiments_left=None))
    lines = rendered(live_view(status, "campaign demo"))
    assert all(len(line) <= 100 for line in lines), lines
    text = "\n".join(lines)
    assert "campaign demo" in lines[0] and "3:12 left" in lines[0] and "best public PGR 0.41" in lines[0]
    row1 = next(line for line in lines if line.startswith("search-1"))
    for cell in ("running", "▶ vanilla on math", "12", "0.41", "0.33", "2", "29 evals, 5 exp, $3.50"):
        assert cell in row1, (cell, row1)
    row2 = next(line for line in lines if line.startswith("search-2"))
    assert "crashed" in row2 and "▶" not in row2 and "29 evals" in row2 and "$" not in row2
    assert "dashboard: http://127.0.0.1:8765/" in text


def test_the_summary_is_one_table_that_fits_100_columns_even_on_a_wide_terminal() -> None:
    status = campaign(agent("search-1"), agent("a-very-long-agent-name-indeed", "done"), finalized=True)
    status.agents[0].final = [FinalResult(dataset=d, method="m", submission_id="s", public_pgr=0.4,
                                          private_transfer_acc=0.7, private_pgr=-0.38) for d in ("math", "chat")]
    for width in (100, 240):
        lines = rendered(summary_table(status), width)
        assert max(len(line) for line in lines) <= 100, lines
        assert sum(SUMMARY_TITLE in line for line in lines) == 1
    text = "\n".join(rendered(summary_table(status)))
    assert "search-1" in text and "math -0.38" in text and "0.33" in text and "1.50" in text


def test_on_a_cluster_the_summary_names_each_agents_node_and_moves_in_100_columns() -> None:
    status = campaign(agent("search-1", "done", node="10.0.0.5/1a2b3c4d", moves=2),
                      agent("search-2", "done", node="10.0.0.6/9f8e7d6c"), finalized=True)
    for width in (100, 240):
        lines = rendered(summary_table(status), width)
        assert max(len(line) for line in lines) <= 100, lines
    text = "\n".join(rendered(summary_table(status)))
    assert "node (moves)" in text
    row1 = next(line for line in text.splitlines() if "search-1" in line)
    row2 = next(line for line in text.splitlines() if "search-2" in line)
    assert "1a2b3c4d" in row1 and "(2)" in row1 and "9f8e7d6c" in row2 and "(" not in row2.split("9f8e7d6c")[1][:6]
    assert "node (moves)" not in "\n".join(rendered(summary_table(campaign(agent("local-1", "done")))))


def test_agent_text_is_shown_literally_never_as_markup() -> None:
    status = campaign(agent("search-1", experiment="[bold red]x[/] on math"))
    assert "[bold red]x[/] on math" in "\n".join(rendered(live_view(status)))


def test_the_report_line_says_where_the_report_is_and_how_to_open_the_dashboard(tmp_path: Path) -> None:
    line = report_line(tmp_path, tmp_path / "report.html")
    assert line.startswith(f"report: {tmp_path / 'report.html'}")
    assert f"aarlab server start --state {tmp_path / 'server'}" in line and "\n" not in line
    assert "aarlab campaign report --state" in report_line(tmp_path, None)
    assert report_line(tmp_path, None, "http://127.0.0.1:8000/").endswith("dashboard: http://127.0.0.1:8000/")


def test_log_lines_name_only_the_agents_that_changed() -> None:
    before = campaign(agent("search-1"), agent("search-2"))
    after = campaign(agent("search-1"), agent("search-2", submissions=13, best_public_pgr=0.5))
    assert len(change_lines(None, before)) == 2
    (line,) = change_lines(before, after)
    assert line.startswith("search-2: running; experiment vanilla on math (running); 13 submissions, "
                           "best public 0.50")
    assert change_lines(after, after) == []


def test_quiet_or_a_pipe_gives_log_lines_and_a_terminal_the_live_view(tmp_path: Path) -> None:
    from aarlab.campaign.cli import _LineWatch, _LiveWatch, _watch

    assert isinstance(_watch(tmp_path, quiet=False, terminal=True), _LiveWatch)
    assert isinstance(_watch(tmp_path, quiet=True, terminal=True), _LineWatch)
    assert isinstance(_watch(tmp_path, quiet=False, terminal=False), _LineWatch)


def write_transcript(state: Path, name: str, *events: Mapping[str, object]) -> None:
    path = state / "agents" / name / "transcript.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"t": 0, **e}) + "\n" for e in events))


def test_the_latest_experiment_comes_from_the_transcript_without_control_characters(tmp_path: Path) -> None:
    call = {"type": "tool_call", "id": "c1", "name": "w2s_run", "input": {"dataset": "math", "method": "soft"}}
    write_transcript(tmp_path, "a", call)
    assert latest_experiment(tmp_path, "a") == ("soft on math", True)
    write_transcript(tmp_path, "a", call, {"type": "tool_result", "id": "c1", "name": "w2s_run", "output": "ok"},
                     {"type": "tool_call", "id": "c2", "name": "shell", "input": {"command": "ls"}})
    assert latest_experiment(tmp_path, "a") == ("soft on math", False)
    write_transcript(tmp_path, "a", {**call, "input": {"dataset": "math", "method": "x\x1b[2J\x07"}})
    assert latest_experiment(tmp_path, "a") == ("x?[2J? on math", True)
    assert latest_experiment(tmp_path, "nobody") == (None, False)


def test_status_counts_evaluations_left_and_reads_budgets_from_usage_json(tmp_path: Path) -> None:
    state = tmp_path / "campaign"
    home = write_fake_suite(tmp_path / "home")
    server = start_server(home, state / "server", None, ServerSettings(rate_per_s=1000, rate_burst=1000))
    started = time.time()
    save_campaign(state, CampaignInfo(suite=SUITE, home=str(home), agent_kind="search", minutes=1, concurrency=1,
                                      budget=50, started_at=started, deadline=started + 60, dashboard_port=8765,
                                      agents=[AgentRecord(name="a1", direction="d", state="running")]))
    (state / "agents" / "a1").mkdir(parents=True)
    (state / "agents" / "a1" / "agent.json").write_text(json.dumps({"datasets": ["math", "chat"]}))
    (state / "agents" / "a1" / "usage.json").write_text(json.dumps(
        {"cost_usd": 1.25, "experiments": 3, "budget": {"usd": 5.0, "experiments": 10}}))
    try:
        labels = server.labels("math")
        with server.client(server.add_agent(name="a1", budget=20)) as client:
            client.submit("math", {i: float(y) for i, y in labels.items()}, method="oracle")
        status = campaign_status(state)
    finally:
        server.stop()
    (a1,) = status.agents
    assert (a1.evaluations_left, a1.experiments, a1.experiments_left, a1.usd_left) == (19, 3, 7, 3.75)
    assert a1.submissions == 1 and a1.flags >= 0 and a1.promoted_pgr is None
    assert status.dashboard_url == "http://127.0.0.1:8765/" and 0 < (status.time_left_s or 0) <= 60


# -- real campaigns -------------------------------------------------------------------------------------------

CSI = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])")


def screen(raw: str) -> list[str]:
    """The lines a terminal shows after ``raw``: enough of a VT100 for rich (CR, LF, cursor up, erase line, SGR)."""
    lines: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(raw):
        if m := CSI.match(raw, i):
            args, command = m.groups()
            count = int(args) if args.isdigit() else 1
            if command == "A":
                row = max(0, row - count)
            elif command == "K":
                lines[row] = [] if args == "2" else lines[row][:col]
            elif command == "G":
                col = count - 1
            i = m.end()
            continue
        ch = raw[i]
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            if row == len(lines):
                lines.append([])
        elif ch >= " ":
            line = lines[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = ch
            col += 1
        i += 1
    text = ["".join(line).rstrip() for line in lines]
    while text and not text[-1]:
        text.pop()
    return text


def clean_env() -> dict[str, str]:
    """This environment without what would override rich's own terminal detection or width."""
    drop = {"COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "TERM"}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "TERM": "xterm-256color"}


@pytest.fixture
def short_state() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="aarl-"))  # short: a Unix socket path is limited to 108 bytes
    yield root / "c"
    shutil.rmtree(root, ignore_errors=True)


def run_argv(state: Path, suite: Suite, minutes: float, agents: int) -> list[str]:
    return [sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--agents", str(agents),
            "--minutes", str(minutes), "--budget", "30", "--trial-timeout", "60", "--state", str(state),
            "--home", str(suite.home)]


def stop(process: subprocess.Popen[bytes]) -> None:
    """A campaign still running after a failure: SIGTERM (it stops its agents), then SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_in_pty(argv: list[str], columns: int = 100, rows: int = 40, hang_guard_s: float = 600) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal of ``columns`` x ``rows`` as stdin, stdout and stderr; its exit code and
    everything it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=clean_env(),
                               start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    guard = time.monotonic() + hang_guard_s
    try:
        while time.monotonic() < guard:
            if select.select([master], [], [], 1.0)[0]:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:  # EIO: the child closed its side
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        code = process.wait(5)
    finally:
        stop(process)
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


@needs_bwrap
def test_on_a_terminal_the_campaign_is_shown_live_then_once_as_a_summary_with_the_report(
        tiny_suite: Suite, short_state: Path) -> None:
    code, raw = run_in_pty(run_argv(short_state, tiny_suite, minutes=0.25, agents=2))
    assert code == 0, raw[-3000:]
    frames = CSI.sub("", raw)
    # while it ran: the live view was drawn (and redrawn in place) with every agent and its state
    assert "Ctrl-C stops the agents" in frames and "\x1b[1A" in raw
    assert re.search(r"search-1 +running", frames) and re.search(r"search-2 +running", frames)
    # at the end: the live view is gone, and the summary table is printed once, within 100 columns
    shown = screen(raw)
    assert not any("Ctrl-C stops the agents" in line for line in shown), shown
    assert sum(SUMMARY_TITLE in line for line in shown) == 1 and frames.count(SUMMARY_TITLE) == 1, shown
    table = shown[next(i for i, line in enumerate(shown) if SUMMARY_TITLE in line):]
    assert all(len(line) <= 100 for line in table[:-1]), table
    assert re.search(r"│ search-1 +│.*│ done +│", "\n".join(table)) and "search-2" in "\n".join(table)
    assert table[-1] == (f"report: {short_state / 'report.html'} · dashboard: `aarlab server start --state "
                         f"{short_state / 'server'} --port 8765`")
    assert (short_state / "report.html").read_text().startswith("<!doctype html>")


@needs_bwrap
def test_into_a_pipe_the_campaign_writes_log_lines_without_cursor_movement(tiny_suite: Suite,
                                                                          short_state: Path) -> None:
    process = subprocess.Popen(run_argv(short_state, tiny_suite, minutes=0.1, agents=1), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=clean_env(), start_new_session=True)
    try:
        output, _ = process.communicate(timeout=300)
    finally:
        stop(process)
    text = output.decode()
    assert process.returncode == 0, text[-3000:]
    assert "\x1b" not in text  # no cursor movement, no colour: plain lines for a log
    assert re.search(r"^\d\d:\d\d:\d\d search-1: running; experiment ", text, re.MULTILINE), text
    assert text.count(SUMMARY_TITLE) == 1 and "Ctrl-C stops the agents" not in text
    assert all(len(line) <= 100 for line in text[text.index(SUMMARY_TITLE):].splitlines()[:-1])
    assert text.rstrip().splitlines()[-1].startswith(f"report: {short_state / 'report.html'} · dashboard: ")
