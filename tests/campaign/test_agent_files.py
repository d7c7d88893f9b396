"""Campaign status reads agents' files without following what an agent could plant there."""

from __future__ import annotations

import json
import os
from pathlib import Path

from aarlab.campaign._status import cost_of
from tests.test_agentfiles import finishes


def test_a_symlinked_fifo_or_huge_usage_file_counts_as_no_cost(tmp_path: Path) -> None:
    agent = tmp_path / "agents" / "a"
    agent.mkdir(parents=True)
    (tmp_path / "elsewhere.json").write_text(json.dumps({"cost_usd": 99.0}))
    (agent / "usage.json").symlink_to(tmp_path / "elsewhere.json")
    assert cost_of(tmp_path, "a") == 0.0
    (agent / "usage.json").unlink()
    os.mkfifo(agent / "usage.json")
    assert finishes(lambda: cost_of(tmp_path, "a")) == 0.0
    (agent / "usage.json").unlink()
    (agent / "usage.json").write_text(json.dumps({"cost_usd": 2.0, "pad": "x" * (2 << 20)}))
    assert cost_of(tmp_path, "a") == 0.0


def test_a_symlinked_agent_dir_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "usage.json").write_text(json.dumps({"cost_usd": 5.0}))
    (tmp_path / "agents" / "a").symlink_to(tmp_path / "other")
    assert cost_of(tmp_path, "a") == 0.0
