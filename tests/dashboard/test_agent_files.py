"""The agent page never follows what an agent planted in its workspace: links and FIFOs are refused, promptly."""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.dashboard.seed import SeededCampaign, write_harness_files


def _agent(seeded: SeededCampaign, name: str) -> Path:
    """A fresh agent dir with the harness's files (the page lists agents found under ``agents/``)."""
    write_harness_files(seeded.campaign, name, time.time())
    return seeded.campaign / "agents" / name


def _page(seeded: SeededCampaign, path: str) -> httpx.Response:
    return httpx.get(seeded.url + path, headers={"Authorization": f"Bearer {seeded.admin_token}"}, timeout=10)


def test_a_symlinked_notebook_is_refused_and_its_target_never_shown(seeded: SeededCampaign) -> None:
    workspace = _agent(seeded, "mallory-link") / "workspace"
    (workspace / "NOTEBOOK.md").unlink()
    (workspace / "NOTEBOOK.md").symlink_to(seeded.state / "admin.token")
    r = _page(seeded, "/agents/mallory-link")
    assert r.status_code == 200
    assert "NOTEBOOK.md was not shown" in r.text and "symlink" in r.text
    assert seeded.admin_token not in r.text


def test_a_notebook_behind_a_symlinked_workspace_is_refused(seeded: SeededCampaign) -> None:
    base = _agent(seeded, "mallory-dir")
    shutil.rmtree(base / "workspace")
    outside = seeded.campaign.parent / "elsewhere"
    outside.mkdir()
    (outside / "NOTEBOOK.md").write_text("secret-from-outside-the-workspace")
    (base / "workspace").symlink_to(outside)
    r = _page(seeded, "/agents/mallory-dir")
    assert r.status_code == 200 and "secret-from-outside-the-workspace" not in r.text
    assert "NOTEBOOK.md was not shown" in r.text


def test_a_fifo_notebook_answers_promptly_and_many_views_do_not_starve_the_api(seeded: SeededCampaign) -> None:
    workspace = _agent(seeded, "mallory-fifo") / "workspace"
    (workspace / "NOTEBOOK.md").unlink()
    os.mkfifo(workspace / "NOTEBOOK.md")
    r = _page(seeded, "/agents/mallory-fifo")  # would time out (10 s) if the open blocked
    assert r.status_code == 200 and "NOTEBOOK.md was not shown" in r.text and "FIFO" in r.text
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: _page(seeded, "/agents/mallory-fifo").status_code, range(48)))
    assert statuses == [200] * 48
    board = httpx.get(seeded.url + "/api/v1/leaderboard", headers={"Authorization": f"Bearer {seeded.tokens['bob']}"},
                      timeout=10)
    assert board.status_code == 200


def test_linked_transcript_and_usage_files_are_not_read(seeded: SeededCampaign) -> None:
    base = _agent(seeded, "mallory-harness")
    secret = seeded.campaign.parent / "planted.jsonl"
    secret.write_text(json.dumps({"t": 1, "type": "message", "role": "user", "content": "planted-transcript"}) + "\n")
    for name in ("transcript.jsonl", "usage.json"):
        (base / name).unlink()
        (base / name).symlink_to(secret)
    r = _page(seeded, "/agents/mallory-harness")
    assert r.status_code == 200 and "planted-transcript" not in r.text
    live = _page(seeded, "/dashboard/api/agents/mallory-harness/transcript")
    assert live.status_code == 200 and "planted-transcript" not in live.text
