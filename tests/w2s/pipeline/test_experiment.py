from collections.abc import Mapping
from pathlib import Path

import pytest

import aarlab.w2s.pipeline._experiment as experiment_module
from aarlab.suites import Suite
from aarlab.w2s.cache import ArtifactCache
from aarlab.w2s.methods import Method, MethodContext, MethodError, resolve_method
from aarlab.w2s.metrics import DegenerateGapError
from aarlab.w2s.pipeline import Experiment, default_cache


def test_weak_teacher_and_ceiling_are_cached_and_reused(micro_suite: Suite, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = Experiment(micro_suite, "math", ArtifactCache(tmp_path))
    # random micro models may or may not show a gap: this test is about the cache, not the gap
    first = experiment.run(resolve_method("vanilla"), [0], require_gap=False)
    calls = []
    original = experiment_module.fine_tune
    monkeypatch.setattr(experiment_module, "fine_tune", lambda *a, **k: calls.append(1) or original(*a, **k))
    again = Experiment(micro_suite, "math", ArtifactCache(tmp_path)).run(resolve_method("vanilla"), [0],
                                                                         require_gap=False)
    assert calls == []  # neither the teacher nor the ceiling was trained again
    assert again.weak_acc == first.weak_acc and again.strong_acc == first.strong_acc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["strong_ceiling", "weak_teacher"]


def test_result_has_means_per_seed_rows_and_an_interval(tiny_suite: Suite) -> None:
    result = Experiment(tiny_suite, "chat", default_cache(tiny_suite)).run(resolve_method("soft"), [0, 1]).as_dict()
    assert {"weak_acc", "strong_acc", "transfer_acc", "pgr", "pgr_ci", "seeds"} <= set(result)
    assert [s["seed"] for s in result["seeds"]] == [0, 1]
    assert {"weak_acc", "strong_acc", "transfer_acc", "pgr"} <= set(result["seeds"][0])
    low, high = result["pgr_ci"]
    assert low <= result["pgr"] <= high
    means = {k: sum(s[k] for s in result["seeds"]) / 2 for k in ("weak_acc", "strong_acc", "transfer_acc")}
    assert all(abs(result[k] - v) < 1e-12 for k, v in means.items())


def test_a_suite_without_a_gap_gives_a_clear_error(micro_suite: Suite, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = Experiment(micro_suite, "math", ArtifactCache(None))
    ceiling = experiment.weak_teacher(0)["test_probs"]  # a "ceiling" exactly as good as the teacher
    monkeypatch.setattr(experiment, "strong_ceiling", lambda seed: {"test_probs": ceiling})
    with pytest.raises(DegenerateGapError, match="does not exceed weak_acc"):
        experiment.run(resolve_method("vanilla"), [0])


def test_no_gap_is_refused_before_any_method_trains(micro_suite: Suite, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = Experiment(micro_suite, "math", ArtifactCache(None))
    teacher = experiment.weak_teacher(0)
    monkeypatch.setattr(experiment, "weak_teacher", lambda seed: teacher)
    monkeypatch.setattr(experiment, "strong_ceiling", lambda seed: {"test_probs": teacher["test_probs"]})
    ran: list[int] = []

    def spy(ctx: MethodContext) -> Mapping[str, float]:
        ran.append(ctx.seed)
        return {e.id: 0.5 for e in ctx.test}

    with pytest.raises(DegenerateGapError):
        experiment.run(Method("spy", "", spy, "test"), [0, 1])
    assert ran == []  # neither seed's method ran: the gap was known from the teachers and ceilings
    assert experiment.run(Method("spy", "", spy, "test"), [0, 1], require_gap=False).pgr is None
    assert ran == [0, 1]


def test_methods_never_see_a_label(micro_suite: Suite) -> None:
    seen: list[MethodContext] = []

    def spy(ctx: MethodContext) -> Mapping[str, float]:
        seen.append(ctx)
        return {e.id: 0.5 for e in ctx.test}

    experiment = Experiment(micro_suite, "math", ArtifactCache(None))
    experiment.run_method(Method("spy", "", spy, "test"), experiment.weak_teacher(0), 0)
    ctx = seen[0]
    assert all(e.label is None for e in ctx.unlabeled + ctx.test)
    assert set(ctx.weak_soft_labels) == {e.id for e in ctx.unlabeled}


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (lambda ids: {i: 0.5 for i in ids[1:]}, "1 missing"),
        (lambda ids: {**{i: 0.5 for i in ids}, "extra": 0.5}, "1 extra"),
        (lambda ids: {i: 1.5 for i in ids}, "expected in \\[0, 1\\]"),
        (lambda ids: {i: float("nan") for i in ids}, "expected in \\[0, 1\\]"),
        (lambda ids: [0.5] * len(ids), "expected a dict"),
    ],
)
def test_invalid_method_output_is_rejected_with_a_reason(micro_suite: Suite, output, message: str) -> None:
    experiment = Experiment(micro_suite, "math", ArtifactCache(None))
    method = Method("bad", "", lambda ctx: output([e.id for e in ctx.test]), "test")
    weak = {"soft_labels": {e.id: 0.5 for e in experiment.dataset.split("train_unlabel")}}
    with pytest.raises(MethodError, match=message):
        experiment.run_method(method, weak, 0)


def test_lora_lane_runs_end_to_end(micro_suite: Suite) -> None:
    spec = micro_suite.spec.model_copy(update={
        "strong_train": micro_suite.spec.strong_train.with_overrides(mode="lora", lora_r=4, lora_alpha=8)})
    suite = Suite(spec, micro_suite.home)
    result = Experiment(suite, "math", ArtifactCache(None)).run(resolve_method("vanilla"), [0], require_gap=False)
    assert 0 <= result.transfer_acc <= 1
