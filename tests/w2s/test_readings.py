"""Comparing feature readings (layer x pooling) in the probe lane, on the micro suite."""

import pytest

from aarlab.suites import Suite, SuiteError
from aarlab.w2s._readings import compare_readings, readings_markdown, with_reading
from aarlab.w2s.pipeline import Experiment, default_cache


def test_every_reading_is_scored_with_its_question_blind_probe(micro_suite: Suite) -> None:
    before = micro_suite.spec.readings
    stages: list[str] = []
    results = compare_readings(micro_suite, "chat", [1, -1], ["last", "mean"], [0, 1],
                               report=lambda stage, done, total: stages.append(stage))
    assert [(r.layer, r.pooling) for r in results] == [(1, "last"), (1, "mean"), (-1, "last"), (-1, "mean")]
    for r in results:
        assert r.role == "strong"
        assert all(0 <= v <= 1 for v in (r.weak_acc, r.strong_acc, r.transfer_acc, r.answer_only_acc))
        assert len(r.seed_pgrs) == 2
        assert (r.pgr is None) == (r.strong_acc <= r.weak_acc)
    assert len({r.weak_acc for r in results}) == 1  # the teacher's reading did not change
    assert "readings" in stages
    assert micro_suite.spec.readings == before  # the suite itself is untouched
    # each reading's features were cached under its own key: a second experiment of one reading loads no model
    variant = with_reading(micro_suite, "chat", "strong", 1, "mean")
    again = Experiment(variant, "chat", default_cache(micro_suite), lane="probe")
    again._extractor = None  # type: ignore[assignment,method-assign]  # a miss would call it and fail
    assert 0 <= again.strong_ceiling(7)["strong_acc"] <= 1  # a new seed: a new head on the cached features
    markdown = readings_markdown(micro_suite, "chat", results, [0, 1], "vanilla")
    assert markdown.count("\n| ") == 1 + len(results) and "answer-only" in markdown


def test_a_reading_can_vary_the_weak_model_instead(micro_suite: Suite) -> None:
    (result,) = compare_readings(micro_suite, "math", [1], ["mean"], [0], role="weak")
    assert result.role == "weak" and 0 <= result.weak_acc <= 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layers": [3]}, "out of range for the strong model: it has 2 layers"),
    ({"layers": [-4]}, "out of range"),
    ({"role": "teacher"}, "unknown role 'teacher'"),
    ({"dataset": "nope"}, "unknown dataset 'nope'"),
])
def test_bad_readings_are_refused_before_anything_runs(micro_suite: Suite, kwargs: dict, message: str) -> None:
    args = {"dataset": "chat", "layers": [1], "poolings": ["last"], "seeds": [0], **kwargs}
    with pytest.raises(SuiteError, match=message):
        compare_readings(micro_suite, args.pop("dataset"), args.pop("layers"), args.pop("poolings"),
                         args.pop("seeds"), **args)
