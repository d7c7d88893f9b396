"""Finalize: one selected submission per agent and dataset, its private score rounded, shown to the admin only."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest

from aarlab.client import ScoringError
from aarlab.server import open_state, verify_chain
from tests.server.conftest import RunningServer
from tests.server.helpers import auth, constant, exact_accuracy, public_mask


def _noisy(labels: dict[str, bool], accuracy: float, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    return {i: float(y) if rng.random() < accuracy else 1 - float(y) for i, y in labels.items()}


def test_finalize_publishes_one_row_per_agent_and_dataset_from_the_submission_that_set_its_score(
        make_server: Callable[..., RunningServer]) -> None:
    server = make_server()  # 100 public examples: the Ladder's step is 0.4, so only a near-perfect one climbs
    ids, labels = server.ids("math"), server.labels("math")
    good = {i: float(y) for i, y in labels.items()}
    with server.client(server.add_agent(name="ada")) as ada:
        ada.submit("math", constant(ids, 0.2), method="flat")
        best = ada.submit("math", good, method="oracle")
        for k in range(3):  # the search agent names every trial differently
            ada.submit("math", _noisy(labels, 0.7, k), method=f"trial-{k}")
        ada.submit("chat", constant(server.ids("chat"), 0.7), method="flat")
        with pytest.raises(ScoringError) as err:
            ada.finalize()
    assert err.value.status == 403
    with server.client(server.add_agent(name="bob")) as bob:
        first = bob.submit("math", _noisy(labels, 0.7, 9), method="first")  # never climbs: its first is selected
        bob.submit("math", _noisy(labels, 0.75, 8), method="second")

    with server.client(server.admin_token) as admin:
        final = admin.finalize()
        with pytest.raises(ScoringError) as again:
            admin.finalize()
    assert again.value.status == 409
    rows = {(r.agent, r.dataset): r for r in final.rows}
    assert sorted(rows) == [("ada", "chat"), ("ada", "math"), ("bob", "math")]
    public = public_mask(server.state, "math")
    assert rows["ada", "math"].submission_id == best.id and rows["ada", "math"].method == "oracle"
    assert rows["ada", "math"].evaluations == 5
    assert rows["ada", "math"].private_transfer_acc == 1.0
    assert rows["bob", "math"].submission_id == first.id
    private = exact_accuracy(_noisy(labels, 0.7, 9), labels, public, public=False)
    assert rows["bob", "math"].private_transfer_acc == round(private, 2)
    assert rows["bob", "math"].private_pgr == round((round(private, 2) - 0.55) / 0.2, 2)
    written = json.loads((server.state / "final" / "leaderboard.json").read_text())
    assert written["finalized_at"] == final.finalized_at and len(written["rows"]) == 3


def test_agent_tokens_never_see_private_scores_even_after_finalize(make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    labels = server.labels("math")
    token = server.add_agent(name="eve")
    with server.client(token) as eve:
        mine = [eve.submit("math", _noisy(labels, 0.7, k), method=f"probe-{k}").id for k in range(4)]
        with server.client(server.admin_token) as admin:
            admin.finalize()
            admin_board = admin.leaderboard()
        board = eve.leaderboard()
    assert admin_board.rows[0].private_transfer_acc is not None
    assert board.finalized_at is not None and len(board.rows) == 1
    assert all(r.private_transfer_acc is None and r.private_pgr is None for r in board.rows)
    for sub_id in mine:
        raw = server_get(server, token, f"/api/v1/submissions/{sub_id}")
        assert not any(k.startswith("private") for k in raw)


def server_get(server: RunningServer, token: str, path: str) -> dict:
    """A raw GET (so that no client model drops a field the server sent)."""
    import httpx

    response = httpx.get(server.url + path, headers=auth(token), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_after_finalize_submissions_are_refused_and_the_chain_verifies(
        make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    token = server.add_agent()
    with server.client(token) as client:
        client.submit("chat", constant(server.ids("chat"), 0.7))
        with server.client(server.admin_token) as admin:
            admin.finalize()
            board = admin.leaderboard()
        with pytest.raises(ScoringError) as err:
            client.submit("chat", constant(server.ids("chat"), 0.3))
        assert len(client.submissions()) == 1
    assert err.value.status == 409 and "finalized" in err.value.message
    assert board.finalized_at is not None and board.rows[0].private_transfer_acc is not None
    state = open_state(server.state)
    try:
        assert verify_chain(state.db).ok
    finally:
        state.db.dispose()
