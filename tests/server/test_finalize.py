"""Finalize: private scores appear only at the end, from the best public submission, and close the campaign."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest

from aarlab.client import ScoringError
from aarlab.server import open_state, verify_chain
from tests.server.conftest import RunningServer
from tests.server.helpers import constant, exact_accuracy, public_mask


def test_finalize_reveals_private_scores_of_each_methods_best_public_submission(
        make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    rng = random.Random(3)
    ids, labels = server.ids("math"), server.labels("math")
    noisy = {i: float(labels[i]) if rng.random() < 0.8 else 1 - float(labels[i]) for i in ids}
    with server.client(server.add_agent(name="ada")) as ada:
        ada.submit("math", constant(ids, 0.2), method="flat")
        best = ada.submit("math", noisy, method="noisy")
        before = ada.leaderboard()
        with pytest.raises(ScoringError) as err:
            ada.finalize()
        assert err.value.status == 403
    assert before.finalized_at is None and all(r.private_transfer_acc is None for r in before.rows)

    with server.client(server.admin_token) as admin:
        final = admin.finalize()
        with pytest.raises(ScoringError) as again:
            admin.finalize()
    assert again.value.status == 409
    rows = {r.method: r for r in final.rows}
    private = exact_accuracy(noisy, labels, public_mask(server.state, "math"), public=False)
    assert rows["noisy"].submission_id == best.id
    assert rows["noisy"].private_transfer_acc == pytest.approx(private)
    assert rows["noisy"].private_pgr == pytest.approx((private - 0.55) / 0.2)
    written = json.loads((server.state / "final" / "leaderboard.json").read_text())
    assert written["finalized_at"] == final.finalized_at


def test_after_finalize_submissions_are_refused_and_the_leaderboard_shows_private_scores(
        make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    token = server.add_agent()
    with server.client(token) as client:
        client.submit("chat", constant(server.ids("chat"), 0.7))
        with server.client(server.admin_token) as admin:
            admin.finalize()
        with pytest.raises(ScoringError) as err:
            client.submit("chat", constant(server.ids("chat"), 0.3))
        board = client.leaderboard()
        assert len(client.submissions()) == 1
    assert err.value.status == 409 and "finalized" in err.value.message
    assert board.finalized_at is not None and board.rows[0].private_transfer_acc is not None
    state = open_state(server.state)
    try:
        assert verify_chain(state.db).ok
    finally:
        state.db.dispose()
