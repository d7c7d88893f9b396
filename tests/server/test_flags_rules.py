"""The integrity flag rules as pure functions: where each one fires and where it must not."""

from __future__ import annotations

import numpy as np
import pytest

from aarlab.server._integrity import (
    SHORTCUT_COPY,
    Baselines,
    ShortcutReference,
    ceiling_flag,
    constant_flag,
    gap_flag,
    hard_fingerprint,
    jump_flag,
    shortcut_flag,
)

BASE = Baselines(weak_acc=0.70, strong_acc=0.90, n_test=2000, n_public=1000)


def _labels(n: int = 2000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(n) < 0.5


def _with_accuracy(labels: np.ndarray, accuracy: float, seed: int) -> np.ndarray:
    """Soft predictions right with probability ``accuracy``, errors independent of everything else."""
    rng = np.random.default_rng(seed)
    right = rng.random(labels.size) < accuracy
    hard = np.where(right, labels, ~labels)
    return np.where(hard, 0.6 + 0.3 * rng.random(labels.size), 0.4 - 0.3 * rng.random(labels.size))


def _shortcut(labels: np.ndarray, accuracy: float, public_acc: float) -> ShortcutReference:
    return ShortcutReference("majority-vote", _with_accuracy(labels, accuracy, 99), public_acc)


def test_a_copy_of_a_shortcut_weaker_than_the_teacher_is_flagged() -> None:
    labels = _labels()
    shortcut = _shortcut(labels, 0.65, 0.65)
    flag = shortcut_flag(shortcut, shortcut.predictions, BASE)
    assert flag is not None and flag.evidence["agreement"] == 1.0
    assert flag.evidence["threshold"] < 1.0


def test_a_shortcut_that_beats_the_teacher_blended_with_noise_on_one_row_in_two_hundred_is_flagged() -> None:
    labels = _labels()
    shortcut = _shortcut(labels, 0.85, 0.85)
    flip = np.random.default_rng(5).random(labels.size) < 0.005
    blended = np.where(flip, 1 - shortcut.predictions, shortcut.predictions)
    assert shortcut_flag(shortcut, blended, BASE) is not None


@pytest.mark.parametrize("accuracy", [0.70, 0.80, 0.90])
def test_an_honest_method_whose_errors_are_all_the_shortcuts_errors_is_not_flagged(accuracy: float) -> None:
    # The worst case for an honest method: it fails exactly where the (weaker) shortcut fails, and only there.
    labels = _labels()
    shortcut = _shortcut(labels, 0.62, 0.62)
    shortcut_wrong = np.flatnonzero((shortcut.predictions > 0.5) != labels)
    hard = np.where(labels, 0.8, 0.2)
    wrong = shortcut_wrong[: round((1 - accuracy) * labels.size)]
    hard[wrong] = 1 - hard[wrong]
    assert shortcut_flag(shortcut, hard, BASE) is None


@pytest.mark.parametrize("accuracy", [0.70, 0.80, 0.90, 0.93])
@pytest.mark.parametrize("shortcut_accuracy", [0.60, 0.75, 0.95])
def test_honest_methods_up_to_beyond_the_ceiling_are_not_flagged(accuracy: float, shortcut_accuracy: float) -> None:
    labels = _labels()
    shortcut = _shortcut(labels, shortcut_accuracy, round(shortcut_accuracy, 2))
    for seed in range(3):
        assert shortcut_flag(shortcut, _with_accuracy(labels, accuracy, seed), BASE) is None


def test_a_near_copy_of_a_shortcut_that_beats_the_teacher_is_flagged_at_the_copy_bar() -> None:
    labels = _labels()
    shortcut = _shortcut(labels, 1.0, 1.0)
    flag = shortcut_flag(shortcut, shortcut.predictions, BASE)
    assert flag is not None and flag.evidence["threshold"] == SHORTCUT_COPY
    assert "near-copy" in flag.detail


def test_a_shortcut_without_enough_opinions_is_not_judged() -> None:
    labels = _labels(40)
    shortcut = _shortcut(labels, 0.65, 0.65)
    assert shortcut_flag(shortcut, shortcut.predictions, Baselines(0.7, 0.9, 40, 20)) is None


def test_public_pgr_beyond_the_ceiling_by_more_than_noise_is_flagged_and_within_noise_is_not() -> None:
    flag = ceiling_flag(BASE, 1.30)
    assert flag is not None and flag.evidence["limit"] < 1.30
    assert ceiling_flag(BASE, 1.05) is None
    assert ceiling_flag(BASE, None) is None


def test_a_gap_of_half_a_point_is_flagged_and_a_ten_point_gap_is_not() -> None:
    flag = gap_flag(Baselines(0.700, 0.705, 1000, 500))
    assert flag is not None and flag.evidence["gap"] == 0.005
    assert gap_flag(Baselines(0.70, 0.80, 1000, 500)) is None
    assert "does not beat" in gap_flag(Baselines(0.8, 0.7, 1000, 500)).detail  # type: ignore[union-attr]


def test_probabilities_squashed_near_one_half_with_varying_hard_predictions_are_not_constant() -> None:
    squashed = 0.5 + (_with_accuracy(_labels(), 0.8, 0) - 0.5) / 50
    assert constant_flag(squashed) is None
    assert constant_flag(np.full(100, 0.51)) is not None


def test_the_hard_fingerprint_ignores_re_noising_but_not_a_flipped_prediction() -> None:
    p = _with_accuracy(_labels(), 0.8, 0)
    assert hard_fingerprint(p) == hard_fingerprint(0.5 + (p - 0.5) * 0.3)
    flipped = p.copy()
    flipped[7] = 1 - flipped[7]
    assert hard_fingerprint(p) != hard_fingerprint(flipped)


def test_a_jump_is_relative_to_the_previous_best() -> None:
    assert jump_flag(0.30, 0.60) is not None
    assert jump_flag(0.30, 0.50) is None
    assert jump_flag(None, 1.5) is None


def test_a_jump_is_judged_only_over_a_few_earlier_scores() -> None:
    flag = jump_flag(0.30, 0.60, history=3)
    assert flag is not None and flag.evidence["history"] == 3
    assert jump_flag(0.30, 0.60, history=2) is None  # honest first tries switch methods and jump
    assert jump_flag(0.30, 0.60, history=1) is None


def test_the_ceiling_judges_the_noise_of_distinct_items_not_of_repeated_rows() -> None:
    # The fresh demo's code dataset: weak .639, strong .961, 480 public rows of about 60 distinct items.
    rows, items = Baselines(0.639, 0.961, 960, 480), Baselines(0.639, 0.961, 120, 60)
    assert ceiling_flag(rows, 1.16) is not None  # what an honest search agent got before
    assert ceiling_flag(items, 1.16) is None
    assert ceiling_flag(items, 1.60) is not None
