"""Setting up campaigns: LLM options checked before anything starts, one direction per agent, budgets in the
assignments, an existing scoring service (--server), the dashboard port, and cost in ``campaign status``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aarlab.campaign._external import SocketForwarder
from aarlab.campaign._llm import LLMOptions, check_model
from aarlab.campaign._run import ExternalService, ScoringServer, prepare_resume, server_settings
from aarlab.campaign._setup import setup_campaign
from aarlab.campaign._state import AgentAssignment, CampaignError, load_campaign
from aarlab.campaign._status import campaign_status, cost_of
from aarlab.client import ScoringClient
from aarlab.suites import Suite

MODEL = "anthropic/claude-sonnet-4-5"


def aarlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aarlab", *args], capture_output=True, text=True, timeout=120,
                          env={**(env if env is not None else os.environ), "COLUMNS": "200"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assignments(state: Path) -> list[AgentAssignment]:
    return [AgentAssignment.model_validate_json(p.read_text()) for p in sorted(state.glob("agents/*/agent.json"))]


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="aars-"))  # short: a Unix socket path is limited to 108 bytes
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_missing_api_key_is_reported_before_anything_is_created(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    result = aarlab("campaign", "run", "--state", str(tmp_path / "c"), "--agent", MODEL, env=env)
    assert result.returncode == 2 and "ANTHROPIC_API_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "c").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--agent", "gpt-4"], "neither 'search' nor a model string"),
    (["--agent", "search", "--usd", "3"], "--usd only apply to LLM agents"),
    (["--agent", "search", "--directions", "d.toml"], "--directions only apply"),
    (["--agent", "openai-api/local/llama"], "LOCAL_API_KEY"),
    (["--admin-token", "x"], "--admin-token is for --server"),
])
def test_campaign_options_that_cannot_work_are_refused_up_front(tmp_path: Path, args: list[str], message: str) -> None:
    result = aarlab("campaign", "run", "--state", str(tmp_path / "c"), *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "c").exists()


def test_keyless_local_providers_and_set_keys_pass_the_check() -> None:
    check_model("ollama/qwen3:8b", {})
    check_model("openai/gpt-4.1", {"OPENAI_API_KEY": "k"})
    with pytest.raises(CampaignError, match="OPENAI_API_KEY"):
        check_model("openai/gpt-4.1", {"OPENAI_API_KEY": ""})


def test_llm_agents_get_distinct_directions_models_and_budgets(tiny_suite: Suite, short_tmp: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    state = short_tmp / "c"
    llm = LLMOptions(model=MODEL, base_url="http://127.0.0.1:9", budget_usd=2.5, budget_tokens=100_000,
                     budget_experiments=7)
    setup_campaign(state, suite="tiny", home=tiny_suite.home, agents=3, kind=MODEL, minutes=5, concurrency=3,
                   budget=10, trial_timeout_s=60, log=lambda _m: None, llm=llm)
    agents = assignments(state)
    assert [a.name for a in agents] == ["agent-1", "agent-2", "agent-3"]
    assert len({a.direction_name for a in agents}) == 3 and all(a.direction_text for a in agents)
    assert {(a.model, a.base_url, a.budget_usd, a.budget_tokens, a.budget_experiments) for a in agents} == {
        (MODEL, "http://127.0.0.1:9", 2.5, 100_000, 7)}
    info = load_campaign(state)
    assert [r.direction for r in info.agents] == [a.direction for a in agents] and info.agent_kind == MODEL
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(CampaignError, match="ANTHROPIC_API_KEY"):
        prepare_resume(state, 1)


def test_development_datasets_are_all_the_agents_see_and_the_others_are_held_out(tiny_suite: Suite,
                                                                                  short_tmp: Path) -> None:
    logs: list[str] = []
    info = setup_campaign(short_tmp / "c", suite="tiny", home=tiny_suite.home, agents=2, kind="evolve", minutes=5,
                          concurrency=2, budget=5, trial_timeout_s=60, log=logs.append, dev_datasets=["chat"])
    assert sorted(p.name for p in (short_tmp / "c" / "visible").iterdir()) == ["chat"]
    assert [a.datasets for a in assignments(short_tmp / "c")] == [["chat"], ["chat"]]
    assert [a.name for a in info.agents] == ["evolve-1", "evolve-2"] and info.dev_datasets == ["chat"]
    assert load_campaign(short_tmp / "c").dev_datasets == ["chat"]
    assert any("held out" in m and "math, code" in m for m in logs), logs
    for bad in (["nope"], ["chat", "chat"]):
        with pytest.raises(CampaignError, match="--dev-dataset"):
            setup_campaign(short_tmp / "d", suite="tiny", home=tiny_suite.home, agents=1, kind="evolve", minutes=5,
                           concurrency=1, budget=5, trial_timeout_s=60, log=logs.append, dev_datasets=bad)
        assert not (short_tmp / "d").exists()


def test_user_directions_are_given_round_robin(tiny_suite: Suite, short_tmp: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    directions = short_tmp / "directions.txt"
    directions.write_text("Probe truth directions\nLook at the features.\n---\nEvolve methods\nMutate and select.\n")
    setup_campaign(short_tmp / "c", suite="tiny", home=tiny_suite.home, agents=3, kind=MODEL, minutes=5,
                   concurrency=3, budget=10, trial_timeout_s=60, log=lambda _m: None,
                   llm=LLMOptions(model=MODEL, directions_file=directions))
    agents = assignments(short_tmp / "c")
    assert [a.direction_name for a in agents] == ["user-1", "user-2", "user-1"]
    assert agents[1].direction_text.startswith("Evolve methods")
    bad = short_tmp / "bad.toml"
    bad.write_text("[[direction]]\nname = 'Bad Name'\ntitle = 't'\ntext = 'x'\n")
    with pytest.raises(CampaignError, match="bad.toml"):
        setup_campaign(short_tmp / "d", suite="tiny", home=tiny_suite.home, agents=1, kind=MODEL, minutes=5,
                       concurrency=1, budget=10, trial_timeout_s=60, log=lambda _m: None,
                       llm=LLMOptions(model=MODEL, directions_file=bad))
    assert not (short_tmp / "d").exists()


def test_cost_comes_from_usage_json_and_is_zero_when_it_is_missing_or_broken(tmp_path: Path) -> None:
    agent = tmp_path / "agents" / "a"
    agent.mkdir(parents=True)
    assert cost_of(tmp_path, "a") == 0.0
    (agent / "usage.json").write_text("{not json")
    assert cost_of(tmp_path, "a") == 0.0
    (agent / "usage.json").write_text(json.dumps({"cost_usd": 1.25, "unknown": 1}))
    assert cost_of(tmp_path, "a") == 1.25


@pytest.fixture
def external_server(tiny_suite: Suite, short_tmp: Path) -> Iterator[tuple[str, str, str]]:
    """An ``aarlab server start`` of the tiny suite on TCP and a Unix socket: (http URL, unix URL, admin token)."""
    port, sock = free_port(), short_tmp / "ext.sock"
    state = short_tmp / "server"
    process = subprocess.Popen([sys.executable, "-m", "aarlab", "server", "start", "--init", "--state", str(state),
                                "--suite", "tiny", "--home", str(tiny_suite.home), "--port", str(port), "--uds",
                                str(sock)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not sock.exists() or not (state / "admin.token").is_file():
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", f"unix://{sock}", (state / "admin.token").read_text().strip()
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.parametrize("transport", ["http", "unix"])
def test_a_campaign_on_an_existing_server_creates_its_agents_there(external_server: tuple[str, str, str],
                                                                   tiny_suite: Suite, short_tmp: Path,
                                                                   transport: str) -> None:
    http_url, unix_url, admin = external_server
    url = http_url if transport == "http" else unix_url
    state = short_tmp / "c"
    with pytest.raises(CampaignError, match="cannot use the scoring service"):
        setup_campaign(state, suite="tiny", home=tiny_suite.home, agents=1, kind="search", minutes=5, concurrency=1,
                       budget=4, trial_timeout_s=60, log=lambda _m: None, server=url, admin_token="wrong")
    setup_campaign(state, suite="tiny", home=tiny_suite.home, agents=2, kind="search", minutes=5, concurrency=1,
                   budget=4, trial_timeout_s=60, log=lambda _m: None, server=url, admin_token=admin)
    assert not (state / "server").exists() and (state / "admin.token").stat().st_mode & 0o077 == 0
    service = ExternalService(state, url)
    service.start()
    try:
        token = (state / "agents" / "search-1" / "token").read_text().strip()
        with ScoringClient(f"unix://{state / 'scoring.sock'}", token) as client:
            assert client.whoami().name == "search-1"
            test_ids = [json.loads(line)["id"] for line in
                        (state / "visible" / "math" / "test.jsonl").read_text().splitlines() if line.strip()]
            client.submit("math", {i: 0.5 for i in test_ids}, method="flat")
        status = campaign_status(state)
        assert [(a.name, a.submissions) for a in status.agents] == [("search-1", 1), ("search-2", 0)]
    finally:
        service.stop()
    with pytest.raises(CampaignError, match="already has agents of that name"):
        setup_campaign(short_tmp / "again", suite="tiny", home=tiny_suite.home, agents=1, kind="search", minutes=5,
                       concurrency=1, budget=4, trial_timeout_s=60, log=lambda _m: None, server=url,
                       admin_token=admin)


def test_an_agent_token_is_not_accepted_as_the_admin_token(external_server: tuple[str, str, str],
                                                           short_tmp: Path) -> None:
    http_url, _, admin = external_server
    with ScoringClient(http_url, admin) as client:
        agent_token = client.create_agent("someone", 3).token
    from aarlab.campaign._external import admin_client

    with pytest.raises(CampaignError, match="not the admin"):
        admin_client(http_url, agent_token)


def test_the_ladder_budget_is_the_campaigns_own_servers_setting_only(tiny_suite: Suite, short_tmp: Path) -> None:
    assert server_settings(4) == {"default_budget": 4, "rate_per_s": 20, "rate_burst": 50}
    assert server_settings(4, 0.0)["ladder_bits"] == 0.0
    with pytest.raises(CampaignError, match="--ladder-bits sets the Ladder of the campaign's own server"):
        setup_campaign(short_tmp / "c", suite="tiny", home=tiny_suite.home, agents=1, kind="search", minutes=5,
                       concurrency=1, budget=4, trial_timeout_s=60, log=lambda _m: None,
                       server="http://127.0.0.1:9", admin_token="x", ladder_bits=8)
    assert not (short_tmp / "c").exists()
    with pytest.raises(CampaignError, match="--promote-best re-runs a submission against the campaign's own"):
        setup_campaign(short_tmp / "c", suite="tiny", home=tiny_suite.home, agents=1, kind="search", minutes=5,
                       concurrency=1, budget=4, trial_timeout_s=60, log=lambda _m: None,
                       server="http://127.0.0.1:9", admin_token="x", promote_best=True)
    assert not (short_tmp / "c").exists()


def test_the_forwarder_refuses_urls_that_are_not_http(short_tmp: Path) -> None:
    with pytest.raises(CampaignError, match="http://host"):
        SocketForwarder(short_tmp / "s.sock", "ftp://example")


def test_the_campaign_server_also_listens_on_the_dashboard_port(tiny_suite: Suite, short_tmp: Path) -> None:
    state = short_tmp / "c"
    port = free_port()
    info = setup_campaign(state, suite="tiny", home=tiny_suite.home, agents=1, kind="search", minutes=5,
                          concurrency=1, budget=4, trial_timeout_s=60, log=lambda _m: None, dashboard_port=port,
                          ladder_bits=16, promote_best=True)
    assert load_campaign(state).ladder_bits == 16 and load_campaign(state).promote_best  # kept for resume
    server = ScoringServer(state, info, server_settings(info.budget, info.ladder_bits))
    server.start()
    try:
        assert load_campaign(state).server_pid == server.process.pid  # type: ignore[union-attr]
        assert "ladder_bits = 16" in (state / "server.toml").read_text()  # the server started on that file
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        server.stop()
    assert load_campaign(state).server_pid is None


def test_a_campaign_that_builds_its_suite_shows_the_build_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """The on-demand build reports its stages through the view the command gives (issue 18: no silent build)."""
    import contextlib
    from types import SimpleNamespace

    import aarlab.suites as suites
    from aarlab.campaign._setup import ensure_suite

    fake = SimpleNamespace(spec=SimpleNamespace(builder="tiny"), root=Path("/nowhere/tiny"))
    monkeypatch.setattr(suites, "load_suite", lambda name, home: fake)
    monkeypatch.setattr(suites, "is_built", lambda suite: False)

    def build(suite: object, progress: object, log: object) -> None:
        progress("pretrain strong", 10, 100)  # type: ignore[operator]
        log("a note from the builder")  # type: ignore[operator]

    monkeypatch.setattr(suites, "build_suite", build)
    seen: list[object] = []

    @contextlib.contextmanager
    def view() -> Iterator[tuple[object, object]]:
        seen.append("opened")
        yield (lambda *a: seen.append(a)), (lambda m: seen.append(m))
        seen.append("closed")

    said: list[str] = []
    ensure_suite("tiny", Path("/nowhere"), said.append, view)
    assert said == ["building suite tiny once (cached under /nowhere/tiny)"]
    assert seen == ["opened", ("pretrain strong", 10, 100), "a note from the builder", "closed"]
