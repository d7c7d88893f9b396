import numpy as np
import pytest

from aarlab.w2s.data import BinaryExample
from aarlab.w2s.metrics import DegenerateGapError, accuracy, bootstrap_pgr_ci, pgr, pgr_bar_misses


def test_pgr_is_the_fraction_of_the_gap_recovered() -> None:
    assert pgr(0.6, 0.9, 0.75) == pytest.approx(0.5)
    assert pgr(0.6, 0.9, 0.6) == 0 and pgr(0.6, 0.9, 0.9) == pytest.approx(1)
    assert pgr(0.6, 0.9, 0.5) == pytest.approx(-1 / 3)


@pytest.mark.parametrize(("weak", "strong"), [(0.7, 0.7), (0.8, 0.6)])
def test_pgr_without_a_positive_gap_is_a_clear_error(weak: float, strong: float) -> None:
    with pytest.raises(DegenerateGapError, match="does not exceed weak_acc"):
        pgr(weak, strong, 0.75)


def test_accuracy_thresholds_at_one_half_and_needs_every_id() -> None:
    examples = [BinaryExample(id=str(i), question="q", choice="c", label=i % 2 == 0) for i in range(4)]
    assert accuracy({"0": 0.9, "1": 0.1, "2": 0.4, "3": 0.5}, examples) == 0.75
    with pytest.raises(KeyError, match="no prediction"):
        accuracy({"0": 0.9}, examples)


def test_bootstrap_interval_brackets_the_point_estimate() -> None:
    rng = np.random.default_rng(0)
    weak = (rng.random((3, 500)) < 0.6).astype(float)
    strong = (rng.random((3, 500)) < 0.9).astype(float)
    transfer = (rng.random((3, 500)) < 0.75).astype(float)
    low, high = bootstrap_pgr_ci(weak, strong, transfer)
    point = pgr(weak.mean(), strong.mean(), transfer.mean())
    assert low < point < high and high - low < 0.5


def test_bootstrap_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal"):
        bootstrap_pgr_ci(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 3)))


def test_pgr_bar_misses_names_the_means_and_each_seed_outside_zero_to_one() -> None:
    inside = {"pgr": 0.5, "seeds": [{"seed": 0, "pgr": 0.4}, {"seed": 1, "pgr": 0.6}]}
    assert pgr_bar_misses(inside) == []
    outside = {"pgr": 1.0, "seeds": [{"seed": 0, "pgr": 0.4}, {"seed": 1, "pgr": 0.0}, {"seed": 2, "pgr": None}]}
    assert pgr_bar_misses(outside) == [("mean", 1.0), ("seed 1", 0.0), ("seed 2", None)]
    assert pgr_bar_misses({"pgr": None}) == [("mean", None)]
