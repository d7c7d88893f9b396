"""Label custody and scoring: the public/private split, prediction checks, rounding."""

from __future__ import annotations

import numpy as np
import pytest

from aarlab.server._errors import ApiError
from aarlab.server._scoring import (
    SKETCH_SIZE,
    AnswerKey,
    LadderState,
    PrivateScore,
    _sketch_positions,
    _with_noise_key,
    arrange_predictions,
    coarse_private,
    ladder_climb,
    ladder_floor,
    ladder_noise,
    ladder_noise_sd,
    ladder_start,
    ladder_step,
    public_accuracy,
    public_assignment,
    public_score_at,
    round_score,
    score_private,
    score_public,
)

IDS = [f"e{i}" for i in range(10)]


def _key(public: list[bool] | None = None, positive: list[bool] | None = None) -> AnswerKey:
    return AnswerKey(name="toy", kind="binary", weak_acc=0.5, strong_acc=0.9, baseline_version="v1",
                     ids=tuple(IDS), index={i: p for p, i in enumerate(IDS)},
                     positive=np.array(positive or [p % 2 == 0 for p in range(10)]),
                     public=np.array(public or [p < 5 for p in range(10)]))


def test_the_public_split_is_fixed_by_the_secret_and_has_the_requested_size() -> None:
    ids = [f"x{i}" for i in range(1000)]
    a = public_assignment(ids, "math", b"secret-1", 0.5)
    assert a.sum() == 500
    assert np.array_equal(a, public_assignment(ids, "math", b"secret-1", 0.5))
    assert not np.array_equal(a, public_assignment(ids, "math", b"secret-2", 0.5))
    assert not np.array_equal(a, public_assignment(ids, "chat", b"secret-1", 0.5))
    assert public_assignment(ids, "math", b"s", 0.3).sum() == 300


def test_predictions_are_arranged_in_position_order_whatever_order_they_come_in() -> None:
    probs = arrange_predictions(_key(), list(reversed(IDS)), [p / 10 for p in range(9, -1, -1)])
    assert probs.tolist() == [p / 10 for p in range(10)]


@pytest.mark.parametrize(("ids", "message"), [
    (IDS[:-1], "miss 1 of the 10 test ids"),
    ([*IDS, "zz"], "not test ids"),
    ([*IDS[:-1], IDS[0]], "appears twice"),
])
def test_predictions_must_cover_exactly_the_test_ids(ids: list[str], message: str) -> None:
    with pytest.raises(ApiError) as err:
        arrange_predictions(_key(), ids, [0.5] * len(ids))
    assert err.value.status == 422 and message in err.value.message


def test_public_accuracy_counts_only_public_examples_and_ties_count_as_negative() -> None:
    key = _key(positive=[True] * 10)
    probs = np.array([1, 1, 1, 0.5, 0, 0, 0, 0, 0, 0], dtype=float)  # public: 3 of 5 right
    assert score_public(key, probs).transfer_acc == 0.6
    assert score_private(key, probs).transfer_acc == 0.0


def test_public_pgr_is_computed_from_the_rounded_accuracy() -> None:
    ids = [f"e{i}" for i in range(300)]
    key = AnswerKey(name="t", kind="binary", weak_acc=0.5, strong_acc=0.7, baseline_version="v", ids=tuple(ids),
                    index={i: p for p, i in enumerate(ids)}, positive=np.ones(300, bool),
                    public=np.ones(300, bool))
    probs = np.zeros(300)
    probs[:182] = 1  # exact accuracy 0.60667 -> 0.61; PGR of the exact value would be 0.53, of the rounded 0.55
    score = score_public(key, probs)
    assert (score.transfer_acc, score.pgr) == (0.61, 0.55)


def test_pgr_is_none_without_a_weak_to_strong_gap() -> None:
    key = AnswerKey(**{**_key().__dict__, "strong_acc": 0.5})
    assert score_public(key, np.ones(10)).pgr is None


@pytest.mark.parametrize(("value", "expected"), [(0.0, 0.0), (1.0, 1.0), (0.123, 0.12), (0.127, 0.13),
                                                 (2 / 3, 0.67), (-0.456, -0.46)])
def test_scores_round_to_the_nearest_hundredth(value: float, expected: float) -> None:
    assert round_score(value) == expected


# --- the Ladder -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("n_public", "z", "step"), [(1000, 4.0, 0.13), (500, 4.0, 0.18), (100, 4.0, 0.4),
                                                     (10**6, 4.0, 0.01), (1000, 1.0, 0.04)])
def test_the_ladder_step_is_z_over_root_n_public_rounded_up_to_the_score_step(n_public: int, z: float,
                                                                               step: float) -> None:
    assert ladder_step(n_public, z) == step


def test_before_any_climb_the_ladder_shows_the_weak_teachers_accuracy_and_needs_one_step_above_it() -> None:
    key = _key()  # weak_acc 0.5
    start = ladder_start(key)
    assert start == LadderState(0.5, 0.5)
    assert ladder_climb(start, 0.62, 0.13) is None
    assert ladder_climb(start, 0.63, 0.13) == LadderState(0.63, 0.63)


def test_honest_feedback_moves_when_an_agent_improves_by_a_step_and_repeats_its_best_otherwise() -> None:
    state, shown = ladder_start(_key()), []  # weak_acc 0.5, step 0.13: the first bar is 0.63
    for acc in (0.55, 0.66, 0.64, 0.70, 0.78, 0.80, 0.913, 0.93):  # an agent improving, with noise
        state = ladder_climb(state, acc, 0.13) or state
        shown.append(state.level)
    assert shown == [0.5, 0.66, 0.66, 0.66, 0.66, 0.8, 0.8, 0.93]


def test_the_bar_is_a_step_above_the_shown_score_and_a_climb_keeps_its_exact_accuracy_for_the_record() -> None:
    climbed = ladder_climb(ladder_start(_key()), 0.6349, 0.13)
    assert climbed == LadderState(0.6349, 0.63)
    assert ladder_climb(climbed, 0.7599, 0.13) is None
    assert ladder_climb(climbed, 0.76, 0.13) == LadderState(0.76, 0.76)


def test_the_perturbation_decides_the_climb_and_is_carried_by_the_shown_score() -> None:
    start = ladder_start(_key())  # bar 0.63
    assert ladder_climb(start, 0.65, 0.13, noise=-0.03) is None  # better than the bar, unlucky draw
    assert ladder_climb(start, 0.61, 0.13, noise=+0.03) == LadderState(0.61, 0.64)  # worse, lucky: shows 0.64


def _big_key(n: int = 2000, seed: int = 0) -> AnswerKey:
    rng = np.random.default_rng(seed)
    ids = [f"x{i}" for i in range(n)]
    key = AnswerKey(name="big", kind="binary", weak_acc=0.6, strong_acc=0.8, baseline_version="v", ids=tuple(ids),
                    index={i: p for p, i in enumerate(ids)}, positive=rng.random(n) < 0.5,
                    public=public_assignment(ids, "big", b"s", 0.5), noise_key=b"k" * 32)
    return key


def test_the_ladder_noise_is_the_same_for_a_replay_and_for_a_few_flipped_predictions() -> None:
    key = _big_key()
    probs = np.random.default_rng(1).random(key.n_test)
    draw = ladder_noise(key, probs)
    assert ladder_noise(key, probs.copy()) == draw
    sketch = set(_sketch_positions(key.noise_key, key.ids))
    flipped = probs.copy()
    outside = [p for p in range(key.n_test) if p not in sketch][:5]
    flipped[outside] = 1 - flipped[outside]
    assert ladder_noise(key, flipped) == draw


def test_the_ladder_noise_is_a_fresh_standard_normal_for_models_that_differ_and_depends_on_the_secret() -> None:
    key = _big_key()
    rng = np.random.default_rng(2)
    draws = np.array([ladder_noise(key, rng.random(key.n_test)) for _ in range(400)])
    assert abs(draws.mean()) < 0.2 and 0.85 < draws.std() < 1.15
    assert len(set(draws.tolist())) > 390
    other = AnswerKey(**{**vars(key), "noise_key": b"j" * 32})
    probs = rng.random(key.n_test)
    assert ladder_noise(other, probs) != ladder_noise(key, probs)


def test_the_noise_key_depends_on_the_split_and_the_public_labels_but_never_on_a_private_label() -> None:
    key = _big_key()
    keyed = _with_noise_key(key)
    flip_private = _with_noise_key(AnswerKey(**{**vars(key), "positive": key.positive ^ ~key.public}))
    flip_public = _with_noise_key(AnswerKey(**{**vars(key), "positive": key.positive ^ key.public}))
    other_split = _with_noise_key(AnswerKey(**{**vars(key), "public": public_assignment(key.ids, "big", b"t", 0.5)}))
    assert keyed.noise_key == flip_private.noise_key and len(keyed.noise_key) == 32
    assert len({keyed.noise_key, flip_public.noise_key, other_split.noise_key}) == 3
    assert len(keyed.sketch) == SKETCH_SIZE and keyed.sketch == _sketch_positions(keyed.noise_key, key.ids)


def test_a_bar_is_never_below_chance_plus_four_sd_of_a_label_free_querys_score() -> None:
    key = _big_key()  # 1,000 public examples, about half positive
    rate = float(key.positive[key.public].mean())
    floor = ladder_floor(key, 0.02, 4.0)
    assert floor == pytest.approx(max(rate, 1 - rate) + 4 * (0.25 / 1000 + 0.02 ** 2) ** 0.5)
    assert ladder_floor(key, 0.02, 0.0) == max(rate, 1 - rate)
    start = LadderState(0.55, 0.55)  # a weak teacher near chance: the step alone would put the bar at 0.57
    assert ladder_climb(start, floor - 0.011, 0.02, 0.01, floor) is None
    assert ladder_climb(start, floor - 0.009, 0.02, 0.01, floor) is not None


def test_the_noise_scale_is_in_units_of_one_over_root_n_public() -> None:
    assert ladder_noise_sd(400, 0.5) == pytest.approx(0.025)
    assert ladder_noise_sd(1000, 0.0) == 0.0


def test_the_public_score_shown_for_a_level_carries_the_pgr_of_that_level() -> None:
    key = _key()  # weak 0.5, strong 0.9
    assert public_score_at(key, 0.7).pgr == 0.5
    assert public_score_at(key, 0.5).pgr == 0.0


def test_exact_public_accuracy_counts_only_public_examples() -> None:
    key = _key(positive=[True] * 10)
    assert public_accuracy(key, np.array([1, 1, 0, 0, 0, 1, 1, 1, 1, 1], dtype=float)) == 0.4


def test_finalize_publishes_private_accuracy_rounded_and_pgr_from_the_rounded_value() -> None:
    coarse = coarse_private(_key(), PrivateScore(0.72345, 0.5586))
    assert (coarse.transfer_acc, coarse.pgr) == (0.72, 0.55)  # not 0.56 from the exact value

