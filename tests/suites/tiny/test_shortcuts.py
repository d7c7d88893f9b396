from aarlab.suites.tiny._datasets import build_dataset
from aarlab.suites.tiny._shortcuts import compute_input_accuracy, planted_cue_predictions, tiny_shortcut_accuracies
from aarlab.suites.tiny._world import CUE_STRENGTH, build_world
from aarlab.w2s.data import BinaryExample, ComparisonExample


def test_computing_real_arithmetic_solves_a_real_sum_dataset() -> None:
    rows = [BinaryExample(id=f"{a}{b}{c}", question=f"{a} plus {b}", choice=str(c), label=a + b == c)
            for a in range(10) for b in range(10) for c in (a + b, a + b + 1)]
    assert compute_input_accuracy(rows) == 1.0


def test_computing_the_input_does_not_apply_to_comparisons() -> None:
    rows = [ComparisonExample(id="x", prompt="Bo says red . What is the color of Bo ?", first="red", second="blue",
                              label="A")]
    assert compute_input_accuracy(rows) is None


def test_the_planted_cue_prefers_the_candidate_the_question_shows() -> None:
    rows = [BinaryExample(id="a", question="3 zop 5", choice="5"),
            BinaryExample(id="b", question="3 zop 5", choice="7"),
            ComparisonExample(id="c", prompt="Bo says red . ?", first="blue", second="red")]
    assert planted_cue_predictions(rows) == {"a": 1.0, "b": 0.0, "c": 1.0}


def test_on_the_tiny_world_the_cue_scores_its_strength_and_computing_the_input_stays_low() -> None:
    world = build_world("k0")
    for task in ("math", "code", "chat"):
        scores = tiny_shortcut_accuracies(build_dataset(world, task, 0).split("test"))
        assert abs(scores["planted-cue"] - CUE_STRENGTH) < 0.02
        assert scores.get("compute-input", 0.0) < 0.7  # an upper bound: the op per word is chosen with the labels


def _sums(op, word: str) -> list[BinaryExample]:
    return [BinaryExample(id=f"{word}{a}{b}{c}", question=f"{a} {word} {b}", choice=str(c), label=op(a, b) == c)
            for a in range(1, 10) for b in range(1, 10) for c in (a + b, a * b) if a + b != a * b]


def test_computing_the_input_chooses_its_operation_on_another_split_when_given_one() -> None:
    # On the test rows "zop" is multiplication; the split the operation is chosen on says addition.
    test, other = _sums(lambda a, b: a * b, "zop"), _sums(lambda a, b: a + b, "zop")
    assert compute_input_accuracy(test) == 1.0  # in-sample choice: an upper bound
    assert compute_input_accuracy(test, choose_on=other) == 0.0
    # A word the other split lacks falls back to choosing on the test rows.
    assert compute_input_accuracy(test, choose_on=_sums(lambda a, b: a + b, "blick")) == 1.0


def test_the_tiny_build_labels_the_split_it_chooses_operations_on() -> None:
    train = build_dataset(build_world("k0"), "math", 0).split("train_unlabel")
    assert {e.label for e in train} == {True, False}
