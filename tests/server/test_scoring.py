"""Label custody and scoring: the public/private split, prediction checks, rounding."""

from __future__ import annotations

import numpy as np
import pytest

from aarlab.server._errors import ApiError
from aarlab.server._scoring import (
    AnswerKey,
    arrange_predictions,
    public_assignment,
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
