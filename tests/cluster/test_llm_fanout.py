"""An LLM agent of a cluster campaign fans one ``w2s_run`` over several seeds out as Ray tasks (in-process cluster,
fake Anthropic server): the tasks run in sandboxes from the campaign's storage, and the predictions and the tool
result come back into the agent's workspace and transcript."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aarlab.suites import Suite
from tests.agents.fake_llm import FakeLLM, Reply, text, tool_use
from tests.agents.sandbox.conftest import needs_bwrap
from tests.campaign.test_llm_campaign import METHOD, MODEL, events, llm_env

pytestmark = needs_bwrap


def test_an_llm_agents_seeds_run_as_ray_tasks_and_come_back(tiny_suite: Suite) -> None:
    dataset = tiny_suite.spec.datasets[0]
    script = [
        [tool_use("write_file", {"path": "methods/mine.py", "content": METHOD})],
        [tool_use("w2s_run", {"dataset": dataset, "method": "methods/mine.py", "lane": "probe", "seeds": [0, 1]})],
    ]
    root = Path(tempfile.mkdtemp(prefix="aarf-"))
    state = root / "c"
    try:
        with FakeLLM(script, exhausted=Reply([text("done")])) as llm:
            result = subprocess.run(
                [sys.executable, "-m", "aarlab", "campaign", "run", "--suite", "tiny", "--home", str(tiny_suite.home),
                 "--state", str(state), "--agents", "1", "--agent", MODEL, "--base-url", llm.base_url,
                 "--minutes", "2.5", "--max-experiments", "2", "--usd", "5", "--trial-timeout", "90", "--quiet",
                 "--cluster", "local", "--agent-cpus", "0.5", "--experiment-cpus", "0.5", "--checkpoint-every", "2",
                 "--node-dir", str(root / "nodes")],
                capture_output=True, text=True, env=llm_env(), timeout=400)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        log = events(state)
        outputs = [e for e in log if e["type"] == "tool_result" and e["name"] == "w2s_run"]
        assert len(outputs) == 1 and not outputs[0]["is_error"], outputs
        out = outputs[0]["output"]
        assert out.startswith("2 of 2 seeds done") and out.count("[node ") == 2, out
        usage = json.loads((state / "agents" / "agent-1" / "usage.json").read_text())
        assert usage["experiments"] == 2 and usage["state"] == "budget_exhausted"
        workspace = state / "agents" / "agent-1" / "workspace"  # mirrored back to the head from the storage
        for seed in (0, 1):
            rows = (workspace / "predictions" / f"{dataset}-mine-s{seed}.jsonl").read_text().splitlines()
            assert len(rows) > 10 and set(json.loads(rows[0])) == {"id", "p"}
        # the node kept the experiments' inputs (models, visible data) under --node-dir; the agent's own dir is gone
        campaign_id = json.loads((state / "campaign.json").read_text())["cluster"]["campaign_id"]
        inputs = root / "nodes" / "aarlab-experiments" / campaign_id
        assert (inputs / "home" / "suites" / "tiny" / "models").is_dir() and (inputs / "visible" / dataset).is_dir()
        assert not list((root / "nodes").glob("aarlab-agent-1-*"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
