"""The numbers of a promotion: paired comparison, label-dependence ablation, shuffled weak labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aarlab.campaign._promote_stats import KEEPS_GAIN, label_ablation, paired_comparison
from aarlab.suites import Suite
from aarlab.w2s.pipeline import shuffled_soft_labels


def test_a_method_better_on_every_example_has_a_positive_interval_and_a_small_p_value() -> None:
    rng = np.random.default_rng(0)
    vanilla = (rng.random((3, 400)) < 0.7).astype(float)
    better = np.maximum(vanilla, (rng.random((3, 400)) < 0.3).astype(float))
    paired = paired_comparison(better, vanilla)
    assert paired.mean_diff > 0 and paired.ci[0] > 0 and paired.p_value < 0.01
    assert len(paired.per_seed_diff) == 3 and all(d >= 0 for d in paired.per_seed_diff)


def test_identical_methods_differ_by_nothing_and_are_not_significant() -> None:
    same = (np.random.default_rng(1).random((3, 200)) < 0.6).astype(float)
    paired = paired_comparison(same, same)
    assert paired.mean_diff == 0 and paired.ci == (0.0, 0.0) and paired.p_value == 1.0


def test_matrices_of_different_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="equal"):
        paired_comparison(np.ones((3, 10)), np.ones((2, 10)))


def test_a_method_that_loses_its_gain_on_shuffled_labels_learns_from_the_teacher() -> None:
    ablation = label_ablation(zero_shot_acc=0.5, method_acc=0.9, shuffled_acc=0.55)
    assert not ablation.ignores_weak_labels and ablation.retained == pytest.approx(0.125)


def test_a_method_that_keeps_its_gain_on_shuffled_labels_ignores_the_weak_labels() -> None:
    ablation = label_ablation(zero_shot_acc=0.5, method_acc=0.9, shuffled_acc=0.5 + 0.4 * (KEEPS_GAIN + 0.1))
    assert ablation.ignores_weak_labels


def test_without_a_gain_over_zero_shot_an_unchanged_shuffled_run_ignores_the_weak_labels() -> None:
    assert label_ablation(0.6, 0.55, 0.55).ignores_weak_labels
    assert not label_ablation(0.6, 0.55, 0.40).ignores_weak_labels


def test_shuffled_soft_labels_keep_the_values_and_move_them_between_examples() -> None:
    soft = {f"x{i}": i / 100 for i in range(100)}
    shuffled = shuffled_soft_labels(soft, seed=3)
    assert sorted(shuffled.values()) == sorted(soft.values()) and set(shuffled) == set(soft)
    assert sum(shuffled[k] != v for k, v in soft.items()) > 90
    assert shuffled == shuffled_soft_labels(soft, seed=3)


def test_an_experiment_can_hand_the_method_shuffled_weak_labels(micro_suite: Suite, tmp_path: Path) -> None:
    from aarlab.w2s.cache import ArtifactCache
    from aarlab.w2s.methods import MethodContext, method
    from aarlab.w2s.pipeline import Experiment

    seen: dict[str, dict[str, float]] = {}

    @method("spy", "records the soft labels it is given")
    def spy(ctx: MethodContext) -> dict[str, float]:
        seen[ctx.dataset] = dict(ctx.weak_soft_labels)
        return {e.id: 0.5 for e in ctx.test}

    experiment = Experiment(micro_suite, "math", ArtifactCache(tmp_path), lane="probe")
    from aarlab.w2s.methods import Method

    as_method = Method("spy", "", spy, "test")
    result = experiment.run(as_method, [0], require_gap=False, weak_labels="shuffled")
    teacher = experiment.weak_teacher(0)["soft_labels"]
    assert seen["math"] == shuffled_soft_labels(teacher, 0) != teacher
    assert result.config["weak_labels"] == "shuffled"
    with pytest.raises(ValueError, match="weak_labels"):
        experiment.run(as_method, [0], weak_labels="inverted")


def test_a_baseline_is_beaten_only_when_the_paired_interval_is_above_zero() -> None:
    from aarlab.campaign._promote_stats import versus_baseline

    better, worse = np.ones((3, 40)), np.tile([1.0, 0.0], (3, 20))
    won = versus_baseline("soft", better, worse, 0.4)
    assert won.beaten and won.baseline == "soft" and won.baseline_acc == [0.5] * 3 and won.mean_diff == 0.5
    tied = versus_baseline("auxconf", worse, worse, 0.4)
    assert not tied.beaten and tied.mean_diff == 0.0
    assert not versus_baseline("vanilla", worse, better, 0.9).beaten
