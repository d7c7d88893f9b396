"""Fixtures: one seeded campaign with a real server per test module, and where screenshots go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.seed import SeededCampaign, seed_campaign

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededCampaign]:
    """A campaign dir with two agents, submissions, forum posts and harness files, served on loopback."""
    campaign = seed_campaign(tmp_path_factory.mktemp("dash"))
    yield campaign
    campaign.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests save screenshots: $AARLAB_TEST_ARTIFACTS or test-artifacts/ (git-ignored)."""
    path = Path(os.environ.get("AARLAB_TEST_ARTIFACTS", REPO / "test-artifacts")) / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path
