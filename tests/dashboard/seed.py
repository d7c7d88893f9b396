"""A seeded campaign for the dashboard tests: a campaign dir, a real server on loopback, real submissions and posts.

Layout as ``aarlab campaign run`` makes it (``DIR/campaign.json``, ``DIR/server``, ``DIR/agents/NAME/...``), plus
the harness files of the contract (``transcript.jsonl``, ``usage.json``, ``workspace/NOTEBOOK.md``).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aarlab.client import ForumClient
from aarlab.server import Listener, ServerSettings, add_agent, init_state, listen, read_admin_token
from aarlab.server.dashboard import viewer_token
from tests.server.conftest import wait_ready
from tests.server.fakesuite import SUITE, fake_labels, fake_test_ids, write_fake_suite

XSS_TITLE = "<script>window.__xss = 1; alert('title')</script> look here"
XSS_BODY = ("Try this <img src=x onerror=\"alert('img')\"> and <script>alert('body')</script> "
            "or [click](javascript:alert('link')) <svg onload=alert('svg')></svg>")
AGENTS = ("alice", "bob")


@dataclass
class SeededCampaign:
    """A running server over a seeded campaign dir."""

    campaign: Path
    state: Path
    url: str
    admin_token: str
    viewer_token: str
    tokens: dict[str, str]
    listener: Listener
    thread: threading.Thread
    sock_dir: Path

    def stop(self) -> None:
        """Stop the server and remove its socket dir."""
        self.listener.server.should_exit = True
        self.thread.join(timeout=30)
        shutil.rmtree(self.sock_dir, ignore_errors=True)


def _predictions(ids: list[str], labels: dict[str, bool], accuracy: float, rng: random.Random) -> dict[str, float]:
    """Predictions right on about ``accuracy`` of the examples."""
    return {i: (0.9 if labels[i] else 0.1) if rng.random() < accuracy else (0.1 if labels[i] else 0.9) for i in ids}


def write_harness_files(campaign: Path, name: str, now: float) -> None:
    """transcript.jsonl, usage.json, agent.json and NOTEBOOK.md as the agent harness writes them."""
    base = campaign / "agents" / name
    (base / "workspace").mkdir(parents=True, exist_ok=True)
    events = [
        {"t": now - 300, "type": "state", "state": "running", "reason": "started"},
        {"t": now - 290, "type": "message", "role": "assistant", "content": f"{name}: I will try confidence loss."},
        {"t": now - 280, "type": "tool_call", "id": "c1", "name": "w2s_run",
         "input": {"dataset": "math", "method": "confidence", "seed": 0}},
        {"t": now - 200, "type": "tool_result", "id": "c1", "name": "w2s_run", "output": "wrote predictions/m.jsonl",
         "is_error": False, "duration_s": 80.0},
        {"t": now - 150, "type": "usage", "model": "fake/model", "input_tokens": 1200, "output_tokens": 300,
         "cost_usd": 0.42},
        {"t": now - 100, "type": "some_future_event", "detail": "readers must ignore unknown types gracefully"},
        {"t": now - 90, "type": "tool_call", "id": "c2", "name": "shell", "input": {"cmd": "echo '<b>not bold</b>'"}},
        {"t": now - 89, "type": "tool_result", "id": "c2", "name": "shell", "output": "<b>not bold</b>",
         "is_error": True, "duration_s": 0.1},
    ]
    (base / "transcript.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"t": 1, "type": "trunc')
    (base / "usage.json").write_text(json.dumps({
        "model": "fake/model", "input_tokens": 1200, "output_tokens": 300, "cost_usd": 1.5 if name == "alice" else 0.5,
        "llm_calls": 3, "experiments": 2, "submissions": 3, "started_at": now - 3600, "wall_s": 1800.0,
        "state": "running", "budget": {"usd": 10.0, "tokens": None, "wall_s": None, "experiments": 20}}))
    (base / "agent.json").write_text(json.dumps({
        "name": name, "kind": "fake/model", "direction": f"direction-{name}", "direction_name": f"direction-{name}",
        "direction_text": f"Study how {name} can beat the weak teacher.", "model": "fake/model"}))
    (base / "workspace" / "NOTEBOOK.md").write_text(
        f"# Notebook of {name}\n\n- tried **confidence** loss: PGR up\n- <script>alert('notebook')</script>\n")


def seed_campaign(root: Path) -> SeededCampaign:
    """Build the campaign dir, start the server (thread, free loopback port) and fill it with real data."""
    home = write_fake_suite(root / "home")
    baselines_file = home / "suites" / SUITE / "baselines.json"
    baselines = json.loads(baselines_file.read_text())
    baselines["datasets"]["math"]["vanilla_transfer_acc"] = 0.65
    baselines_file.write_text(json.dumps(baselines))
    campaign = root / "campaign"
    state = campaign / "server"
    now = time.time()
    (campaign).mkdir(parents=True)
    (campaign / "campaign.json").write_text(json.dumps({
        "suite": SUITE, "home": str(home), "agent_kind": "fake/model", "minutes": 60, "concurrency": 2, "budget": 20,
        "started_at": now - 3600, "deadline": now + 3600,
        "agents": [{"name": n, "direction": f"direction-{n}", "state": "running", "restarts": 0} for n in AGENTS]}))
    init_state(state, suite=SUITE, home=home).db.dispose()
    # literature baselines as a suite may record them (the dashboard reads baselines.json tolerantly, at page time)
    baselines["datasets"]["math"]["methods"] = {"confidence": {"transfer_acc": 0.69}, "bootstrap": 0.67}
    baselines_file.write_text(json.dumps(baselines))
    tokens = {n: add_agent(state, n) for n in AGENTS}
    for n, t in tokens.items():
        write_harness_files(campaign, n, now)
        (campaign / "agents" / n / "token").write_text(t)
    sock_dir = Path(tempfile.mkdtemp(prefix="aard"))
    settings = ServerSettings(default_budget=20, rate_per_s=1000, rate_burst=1000)
    listener = listen(state, settings, port=0, uds=sock_dir / "s.sock")
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    wait_ready(listener.urls[0])
    seeded = SeededCampaign(campaign, state, listener.urls[0], read_admin_token(state), viewer_token(state),
                            tokens, listener, thread, sock_dir)
    _submit_and_post(seeded, home, root)
    return seeded


def _submit_and_post(seeded: SeededCampaign, home: Path, root: Path) -> None:
    rng = random.Random(0)
    ids = {d: fake_test_ids(home, d) for d in ("math", "chat")}
    labels = {d: fake_labels(home, d) for d in ("math", "chat")}
    with ForumClient(seeded.url, seeded.tokens["alice"]) as alice, ForumClient(seeded.url, seeded.tokens["bob"]) as bob:
        receipts = [alice.submit("math", _predictions(ids["math"], labels["math"], acc, rng), method="confidence")
                    for acc in (0.6, 0.66, 0.72)]
        alice.submit("chat", _predictions(ids["chat"], labels["chat"], 0.7, rng), method="confidence")
        bob.submit("math", {i: 0.97 for i in ids["math"]}, method="majority")  # tripwire: constant predictions
        bob.submit("math", _predictions(ids["math"], labels["math"], 0.55, rng), method="vanilla")
        bob.submit("math", _predictions(ids["math"], labels["math"], 0.8, rng), method="lucky")  # a score jump
        workspace = root / "ws"
        workspace.mkdir()
        (workspace / "method.py").write_text("def run(ctx):\n    return {}\n")
        snapshot = alice.push_directory(workspace).id
        alice.post("result", "Confidence loss lifts PGR on math", "Auxiliary **confidence** loss; see the snapshot.",
                   tags=["confidence", "math"], receipt=receipts[-1].id, snapshot=snapshot)
        alice.post("hypothesis", "Bootstrapping might help chat", "Train on the strong model's own labels.",
                   tags=["bootstrap"])
        xss = bob.post("insight", XSS_TITLE, XSS_BODY, tags=["xss"])
        alice.reply(xss.id, "Replying to the odd post.")
