"""The probe lane on the micro suite: same stages and method API as fine-tuning, heads on cached frozen features."""

from collections.abc import Mapping
from pathlib import Path

import pytest

from aarlab.suites import Suite, SuiteError
from aarlab.w2s.cache import ArtifactCache
from aarlab.w2s.methods import Method, MethodContext, builtin_methods, resolve_method
from aarlab.w2s.methods._probe_strong import ProbeStrongModel
from aarlab.w2s.pipeline import Experiment, question_blind_accuracy


def _no_model(*_args: object) -> None:
    raise AssertionError("a model was loaded although every feature was cached")


@pytest.mark.parametrize("dataset", ["math", "chat"])
def test_every_literature_method_runs_in_the_probe_lane(micro_suite: Suite, tmp_path: Path, dataset: str) -> None:
    experiment = Experiment(micro_suite, dataset, ArtifactCache(tmp_path), lane="probe")
    weak = experiment.weak_teacher(0)
    assert 0 <= weak["weak_acc"] <= 1 and set(weak["soft_labels"]) == {
        e.id for e in experiment.dataset.split("train_unlabel")}
    assert 0 <= experiment.strong_ceiling(0)["strong_acc"] <= 1
    test_ids = {e.id for e in experiment.dataset.split("test")}
    for name in builtin_methods():
        assert set(experiment.run_method(resolve_method(name), weak, 0)) == test_ids, name


def test_features_are_computed_once_and_reused_without_loading_a_model(micro_suite: Suite, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = Experiment(micro_suite, "chat", ArtifactCache(tmp_path), lane="probe")
    weak, ceiling = first.weak_teacher(0), first.strong_ceiling(0)
    first.run_method(resolve_method("vanilla"), weak, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features", "strong_ceiling", "weak_teacher"]
    again = Experiment(micro_suite, "chat", ArtifactCache(tmp_path), lane="probe")
    monkeypatch.setattr(again, "_loaded", _no_model)
    monkeypatch.setattr(again, "_extractor", _no_model)
    assert again.strong_ceiling(1)["strong_acc"] >= 0  # a new seed: a new head, the same cached features
    assert again.weak_teacher(0) == weak and again.strong_ceiling(0) == ceiling
    again.run_method(resolve_method("confident"), weak, 0)  # a subset of cached examples


def test_probe_and_finetune_lanes_cache_separately(micro_suite: Suite, tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    Experiment(micro_suite, "math", cache, lane="probe").strong_ceiling(0)
    Experiment(micro_suite, "math", cache, lane="finetune").strong_ceiling(0)
    assert len(list((tmp_path / "strong_ceiling").iterdir())) == 2


def test_a_method_sees_the_probe_handle_and_no_labels(micro_suite: Suite) -> None:
    seen: list[MethodContext] = []

    def spy(ctx: MethodContext) -> Mapping[str, float]:
        seen.append(ctx)
        features = ctx.strong.features(ctx.test)
        assert features.shape[0] == len(ctx.test)
        return {e.id: 0.5 for e in ctx.test}

    experiment = Experiment(micro_suite, "math", ArtifactCache(None), lane="probe")
    experiment.run_method(Method("spy", "", spy, "test"), experiment.weak_teacher(0), 0)
    ctx = seen[0]
    assert ctx.lane == "probe" and isinstance(ctx.strong, ProbeStrongModel)
    assert all(e.label is None for e in ctx.unlabeled + ctx.test)


def test_an_unknown_lane_or_hyper_parameter_is_rejected(micro_suite: Suite) -> None:
    with pytest.raises(SuiteError, match="unknown lane 'gpu'; valid: finetune, probe"):
        Experiment(micro_suite, "math", ArtifactCache(None), lane="gpu")
    strong = Experiment(micro_suite, "math", ArtifactCache(None), lane="probe").strong_handle()
    examples = Experiment(micro_suite, "math", ArtifactCache(None)).dataset.split("train_unlabel")[:10]
    with pytest.raises(ValueError, match="lora_r"):
        strong.train(examples, [1.0] * 10, seed=0, lora_r=4)


def test_an_encoder_weak_model_teaches_through_a_probe_in_the_finetune_lane(micro_suite: Suite,
                                                                             tmp_path: Path) -> None:
    spec = micro_suite.spec.model_copy(update={"weak": micro_suite.spec.weak.model_copy(
        update={"kind": "encoder", "pooling": "mean"})})
    experiment = Experiment(Suite(spec, micro_suite.home), "math", ArtifactCache(tmp_path), lane="finetune")
    assert experiment.teacher_lane == "probe"
    # the micro weak model is a causal LM; read as an "encoder" it is loaded through AutoModel (the base model)
    assert 0 <= experiment.weak_teacher(0)["weak_acc"] <= 1


def test_the_question_blind_baseline_reads_answers_only(micro_suite: Suite) -> None:
    accs = question_blind_accuracy(micro_suite, "chat", seeds=[0])
    assert set(accs) == {"weak", "strong"} and all(0 <= a <= 1 for a in accs.values())
