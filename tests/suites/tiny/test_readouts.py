from aarlab.suites.tiny._readouts import _paired_accuracy
from aarlab.w2s.data import BinaryExample, ComparisonExample


def test_pairing_margins_within_a_question_picks_the_larger_one() -> None:
    rows = [BinaryExample(id="a", question="3 zop 5", choice="5", label=True),
            BinaryExample(id="b", question="3 zop 5", choice="7", label=False)]
    assert _paired_accuracy(rows, [0.2, 0.1]) == 1.0
    assert _paired_accuracy(rows, [0.1, 0.2]) == 0.0


def test_pairing_a_comparison_subtracts_the_swapped_order() -> None:
    rows = [ComparisonExample(id="a", prompt="p", first="x", second="y", label="B"),
            ComparisonExample(id="b", prompt="p", first="y", second="x", label="A")]
    assert _paired_accuracy(rows, [0.3, -0.1]) == 1.0
