"""The Ladder's answers and information budget, and ``audit verify`` replaying them under the recorded settings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy import delete, insert, select, update

from aarlab.server import open_state, verify_chain
from aarlab.server._db import audit_log, ladder_budget, public_ladder, submissions
from aarlab.server._ladder import (
    SETTINGS_ACTION,
    LadderBudget,
    LadderQuery,
    LadderRules,
    ladder_answer,
    ladder_charge,
)
from aarlab.server._scoring import AnswerKey, LadderState
from tests.server.conftest import TEST_SETTINGS, RunningServer, serve_state

N = 1000
IDS = tuple(f"e{i}" for i in range(N))


def _key() -> AnswerKey:
    rng = np.random.default_rng(0)
    return AnswerKey(name="toy", kind="binary", weak_acc=0.6, strong_acc=0.9, baseline_version="v1", ids=IDS,
                     index={i: p for p, i in enumerate(IDS)}, positive=rng.random(N) < 0.5,
                     public=np.arange(N) % 2 == 0, noise_key=b"k" * 32)


def _at(key: AnswerKey, acc: float, seed: int) -> np.ndarray:
    """Predictions right on exactly ``acc`` of the public part."""
    rng = np.random.default_rng(seed)
    right = np.zeros(N, dtype=bool)
    public = np.flatnonzero(key.public)
    right[rng.choice(public, round(acc * public.size), replace=False)] = True
    return np.where(right == key.positive, 1.0, 0.0)


def test_the_ladder_charges_most_for_a_query_on_the_bar_and_almost_nothing_far_from_it() -> None:
    n, sd, bar = 1000, 0.7 / 1000 ** 0.5, 0.62
    on = ladder_charge(bar, bar, sd, n, climbed=False)
    near, far_below, far_above = (ladder_charge(bar + d, bar, sd, n, climbed=False) for d in (0.02, -0.10, 0.10))
    assert far_below < 0.001 and far_above < 0.001 < near < on <= 1.0
    level = ladder_charge(bar + 0.10, bar, sd, n, climbed=True) - far_above
    assert 0.1 < level < 0.5  # a climb's shown level: a noisy reading of the accuracy
    assert ladder_charge(bar, bar, 0.0, n, climbed=False) == pytest.approx(1.0)  # no perturbation: a whole bit
    assert ladder_charge(bar, bar, 0.0, n, climbed=True) > 2  # ...and an exact level on top


def test_repeated_rows_are_charged_as_the_items_they_are() -> None:
    """A test split that repeats its items (tiny: ~1,000 rows of 60-120 items) carries information about its items'
    labels: the charge counts distinct public items, while the step and perturbation stay per row."""
    rows = _key()
    items = AnswerKey(**{**vars(rows), "n_public_items": 50})
    probs = _at(rows, 0.62, 0)
    rules = LadderRules("ladder", 0.4, 0.7, 0.0, 2.0)
    by_rows, by_items = LadderQuery.of(rows, probs, rules), LadderQuery.of(items, probs, rules)
    assert (by_rows.n_public, by_items.n_public) == (500, 50)
    assert (by_rows.step, by_rows.noise_sd, by_rows.floor) == (by_items.step, by_items.noise_sd, by_items.floor)
    bar = by_rows.acc + by_rows.step
    assert ladder_charge(bar, bar, by_items.noise_sd, by_items.n_public, climbed=True) > \
        ladder_charge(bar, bar, by_rows.noise_sd, by_rows.n_public, climbed=True)


def test_an_answer_that_would_pass_the_budget_freezes_the_score_and_later_answers_stay_frozen() -> None:
    key, rules = _key(), LadderRules("ladder", 0.4, 0.7, 0.0, 1.0)
    state, spent, answers = None, LadderBudget(), []
    for seed in range(30):  # models near the first bar (0.62): ~0.1-0.2 bits each
        probs = _at(key, 0.61, seed)
        answer = ladder_answer(key, probs, LadderQuery.of(key, probs, rules), rules, state, spent, f"s{seed}")
        assert answer.budget is not None and answer.budget.bits <= 1.0
        state, spent = answer.climbed or state, answer.budget
        answers.append(answer)
    first = next(k for k, a in enumerate(answers) if a.frozen)
    assert 0 < first < 25 and all(a.frozen for a in answers[first:])
    assert answers[-1].budget == LadderBudget(answers[first - 1].budget.bits, f"s{first}")  # type: ignore[union-attr]
    perfect = np.where(key.positive, 1.0, 0.0)
    late = ladder_answer(key, perfect, LadderQuery.of(key, perfect, rules), rules, state, spent, "late")
    assert late.climbed is None and late.frozen and late.transfer_acc == answers[-1].transfer_acc


def test_no_budget_means_no_freeze_and_legacy_or_none_keep_no_budget() -> None:
    key = _key()
    probs = _at(key, 0.62, 1)
    unlimited = LadderRules("ladder", 0.4, 0.7, 0.0, None)
    spent = LadderBudget()
    for seed in range(40):
        probs = _at(key, 0.62, seed)
        answer = ladder_answer(key, probs, LadderQuery.of(key, probs, unlimited), unlimited, None, spent, "x")
        spent = answer.budget or spent
    assert spent.frozen_by is None and spent.bits > 3
    for mode in ("legacy", "none"):
        rules = LadderRules(mode, 0.4, 0.7, 0.0, 0.1)
        answer = ladder_answer(key, probs, LadderQuery.of(key, probs, rules), rules, LadderState(0.9, 0.9),
                               LadderBudget(5.0, "frozen"), "x")
        assert answer.budget is None and not answer.frozen
        assert answer.transfer_acc == (0.62 if mode == "legacy" else 0.6)  # legacy: rounded; none: the teacher


def _climber(server: RunningServer, name: str = "climber") -> list[str]:
    """An agent whose perfect submission climbs, between two that do not; returns the submission ids."""
    labels = server.labels("math")
    with server.client(server.add_agent(name=name)) as client:
        return [client.submit("math", {i: p for i in labels}).id if p is not None else
                client.submit("math", {i: float(y) for i, y in labels.items()}).id for p in (0.0, None, 0.0)]


def test_audit_verify_replays_the_ladder_and_names_a_deleted_or_added_climb(
        make_server: Callable[..., RunningServer]) -> None:
    server = make_server()
    ids = _climber(server)
    server.stop()
    state = open_state(server.state)
    try:
        assert verify_chain(state.db).ok
        with state.db.writer.begin() as conn:
            row = conn.execute(select(public_ladder).where(public_ladder.c.submission_id == ids[1])).mappings().one()
            conn.execute(delete(public_ladder).where(public_ladder.c.submission_id == ids[1]))
        report = verify_chain(state.db)
        assert not report.ok and f"public_ladder row {ids[1]} is missing" in (report.reason or "")
        with state.db.writer.begin() as conn:
            conn.execute(insert(public_ladder).values({**row}))
            conn.execute(insert(public_ladder).values({**row, "submission_id": ids[2]}))
        report = verify_chain(state.db)
        assert not report.ok and ids[2] in (report.reason or "")
    finally:
        state.db.dispose()


def test_audit_verify_replays_the_information_budget_across_restarts_with_other_settings(
        make_server: Callable[..., RunningServer]) -> None:
    server = make_server()  # no budget (the test servers' settings)
    _climber(server, "before")
    server.stop()
    again = serve_state(server.home, server.state, TEST_SETTINGS.model_copy(update={"ladder_bits": 0.5}))
    try:
        _climber(again, "after")  # its budget is counted, and the perfect model's climb freezes it
    finally:
        again.stop()
    state = open_state(server.state)
    try:
        assert verify_chain(state.db).ok
        with state.db.reader.connect() as conn:
            recorded = conn.execute(select(audit_log.c.seq).where(audit_log.c.action == SETTINGS_ACTION)).all()
            budgets = conn.execute(select(ladder_budget)).mappings().all()
            frozen = conn.execute(select(submissions.c.id).where(submissions.c.id == budgets[-1]["frozen_by"])).all()
        assert len(recorded) == 2 and len(frozen) == 1  # the climb (exact level: > 2 bits) would pass 0.5
        with state.db.writer.begin() as conn:
            conn.execute(update(ladder_budget).values(frozen_by=None))  # an admin "unfreezing" an agent
        report = verify_chain(state.db)
        assert not report.ok and "ladder_budget row" in (report.reason or "") and "after" in (report.reason or "")
    finally:
        state.db.dispose()
