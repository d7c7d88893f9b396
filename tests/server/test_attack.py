"""Leakage: an adaptive differential attack within budget learns nothing about private labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aarlab.server import ServerSettings
from aarlab.w2s.data import read_split, write_split
from tests.server.attack import boundary_attack, recovery
from tests.server.conftest import TEST_SETTINGS, start_server
from tests.server.fakesuite import SUITE, write_fake_suite
from tests.server.helpers import public_mask

BUDGET = 30


def _flip_private_labels(home: Path, dataset: str, public: dict[str, bool]) -> None:
    path = home / "suites" / SUITE / "data" / dataset / "test.jsonl"
    flipped = []
    for e in read_split(path).examples:
        if not public[e.id]:
            e = e.model_copy(update={"label": (not e.label) if isinstance(e.label, bool) else
                                     {"A": "B", "B": "A"}[e.label]})
        flipped.append(e)
    write_split(path, flipped)


def test_the_attack_transcript_and_private_guesses_do_not_depend_on_private_labels(
        backend: Callable[[], str | None], tmp_path: Path) -> None:
    settings = ServerSettings(**{**TEST_SETTINGS.model_dump(), "default_budget": BUDGET})
    home_a = write_fake_suite(tmp_path / "home_a")
    server_a = start_server(home_a, tmp_path / "state_a", backend(), settings)
    public = public_mask(server_a.state, "math")
    # A twin campaign: same split secret, same public labels, every private label flipped.
    home_b = write_fake_suite(tmp_path / "home_b")
    _flip_private_labels(home_b, "math", public)
    (tmp_path / "state_b").mkdir()
    (tmp_path / "state_b" / "secret.key").write_text((server_a.state / "secret.key").read_text())
    server_b = start_server(home_b, tmp_path / "state_b", backend(), settings)
    try:
        results = []
        for server in (server_a, server_b):
            with server.client(server.add_agent(name="attacker")) as client:
                results.append(boundary_attack(client, "math", server.ids("math"), BUDGET + 5))
    finally:
        server_a.stop()
        server_b.stop()
    a, b = results
    assert public_mask(server_b.state, "math") == public
    assert len(a.transcript) == BUDGET  # it spent the whole budget and was then refused
    assert a.transcript == b.transcript and a.guesses == b.guesses
    # The same guesses score x on the private labels and 1 - x on their flips: on average exactly chance.
    fig_a = recovery(a, server_a.labels("math"), public)
    fig_b = recovery(b, server_b.labels("math"), public)
    assert fig_a["private_guess_acc"] + fig_b["private_guess_acc"] == pytest.approx(1.0)
    assert a.certain and all(public[i] for i in a.certain)  # what it did learn is public only
    assert len(a.certain) <= BUDGET
