"""Feature extraction: answer pooling reads only the answer's tokens; long texts lose their beginning, not the end;
per-dataset readings of a suite reach the feature bank."""

import numpy as np
import pytest
import torch

from aarlab.suites import Suite, SuiteSpec
from aarlab.w2s.probe import load_extractor
from aarlab.w2s.probe._extract import answer_span


def test_answer_span_is_between_the_last_answer_marker_and_the_label() -> None:
    text = "Question: What? (Answer: no)\nAnswer: 42\nLabel:"
    start, end = answer_span(text)
    assert text[start:end] == "42"
    assert answer_span("just an answer") == (0, len("just an answer"))


@pytest.fixture(scope="module")
def strong_path(micro_suite: Suite) -> str:
    torch.set_num_threads(1)
    return micro_suite.model_path(micro_suite.spec.strong)


def test_answer_pooling_is_the_mean_over_the_answer_tokens(strong_path: str) -> None:
    extractor = load_extractor(strong_path, kind="causal_lm", layer=1, pooling="answer")
    text = "Question: 1 + 2 ?\nAnswer: 3 4 5\nLabel:"
    (got,) = extractor([text, "Question: 7 ?\nAnswer: 1\nLabel:"])[:1]
    enc = extractor.tokenizer([text], return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0]
    start, end = answer_span(text)
    inside = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 1] > start) & (offsets[:, 0] < end)
    assert 0 < int(inside.sum()) < len(inside)
    with torch.no_grad():
        states = extractor.model.model(**enc, output_hidden_states=True).hidden_states[1][0]
    np.testing.assert_allclose(got, states[inside].mean(0).numpy(), atol=1e-4)


def test_long_texts_keep_their_end(strong_path: str) -> None:
    extractor = load_extractor(strong_path, kind="causal_lm", layer=1, pooling="last", max_length=8)
    long_a = "Question: " + "1 + " * 50 + "2 ?\nAnswer: 3\nLabel:"
    long_b = "Question: " + "4 + " * 50 + "2 ?\nAnswer: 3\nLabel:"
    fa, fb = extractor([long_a, long_b])
    # both keep the same last 8 tokens (the answer and the label position): identical features
    np.testing.assert_allclose(fa, fb, atol=1e-5)
    assert extractor.tokenizer.truncation_side == "right"  # the shared tokenizer is left as it was


def test_per_dataset_readings_override_layer_and_pooling(micro_suite: Suite) -> None:
    data = micro_suite.spec.model_dump(mode="json")
    spec = SuiteSpec.model_validate({**data, "readings": {"math": {"strong": {"pooling": "answer",
                                                                              "feature_layer": 2}}}})
    assert spec.ref_for("strong", "math").pooling == "answer" and spec.ref_for("strong", "math").feature_layer == 2
    assert spec.ref_for("strong", "chat") == spec.strong and spec.ref_for("weak", "math") == spec.weak
    assert "readings" in spec.identity() and "readings" not in micro_suite.spec.identity()
    with pytest.raises(ValueError, match="not among datasets"):
        SuiteSpec.model_validate({**data, "readings": {"code": {}}})
    with pytest.raises(ValueError, match="experimental"):
        SuiteSpec.model_validate({**data, "experimental": ["code"]})


def test_an_experiment_reads_features_with_its_datasets_reading(micro_suite: Suite, tmp_path) -> None:
    from aarlab.w2s.cache import ArtifactCache
    from aarlab.w2s.pipeline import Experiment

    data = micro_suite.spec.model_dump(mode="json")
    spec = SuiteSpec.model_validate({**data, "readings": {"math": {"strong": {"pooling": "answer"}}}})
    suite = Suite(spec, micro_suite.home)
    math = Experiment(suite, "math", ArtifactCache(tmp_path), lane="probe")
    chat = Experiment(suite, "chat", ArtifactCache(tmp_path), lane="probe")
    assert math.bank("strong").model_parts["pooling"] == "answer"
    assert chat.bank("strong").model_parts["pooling"] == "last"
