"""Label-free shortcut predictors on hand-made datasets: they score the signal where it exists, else cannot."""

from __future__ import annotations

from aarlab.w2s.data import BinaryExample, ComparisonExample
from aarlab.w2s.metrics import accuracy
from aarlab.w2s.shortcuts import (
    SHORTCUTS,
    answer_frequency,
    majority_vote,
    shortcut_accuracies,
    shortcut_predictions,
)


def _b(i: str, question: str, choice: str, label: bool | None = None) -> BinaryExample:
    return BinaryExample(id=i, question=question, choice=choice, label=label)


def _c(i: str, prompt: str, first: str, second: str, label: str | None = None) -> ComparisonExample:
    return ComparisonExample(id=i, prompt=prompt, first=first, second=second, label=label)


def _repeated_right_answer() -> list[BinaryExample]:
    """Each question's right answer recurs three times, each wrong one once (the first tiny build's math leak)."""
    rows = []
    for q, right, wrongs in [("2 + 2", "4", ["5", "3"]), ("1 + 5", "6", ["7", "9"])]:
        for k in range(3):
            rows.append(_b(f"{q}-r{k}", q, right, True))
        rows += [_b(f"{q}-w{w}", q, w, False) for w in wrongs]
    return rows


def _balanced_binary() -> list[BinaryExample]:
    """Every candidate occurs exactly twice within its question and overall: no frequency signal."""
    rows = []
    for q, right, wrong in [("2 + 2", "4", "5"), ("1 + 5", "6", "7"), ("3 + 4", "7", "6"), ("2 + 3", "5", "4")]:
        for k in range(2):
            rows += [_b(f"{q}-r{k}", q, right, True), _b(f"{q}-w{k}", q, wrong, False)]
    return rows


def test_majority_vote_scores_a_dataset_whose_right_answer_recurs_within_its_question() -> None:
    rows = _repeated_right_answer()
    probs = majority_vote(rows, rows)
    assert accuracy(probs, rows) == 1.0


def test_majority_vote_has_no_opinion_when_every_candidate_of_a_question_occurs_equally_often() -> None:
    rows = _balanced_binary()
    probs = majority_vote(rows, rows)
    assert set(probs.values()) == {0.5}
    assert accuracy(probs, rows) == 0.5


def test_majority_vote_counts_visible_train_rows_not_only_test_rows() -> None:
    train = [_b("u1", "q", "right"), _b("u2", "q", "right"), _b("u3", "q", "wrong")]
    test = [_b("t1", "q", "right", True), _b("t2", "q", "wrong", False)]
    probs = majority_vote(test, train + test)
    assert probs == {"t1": 1.0, "t2": 0.0}


def test_majority_vote_never_reads_labels() -> None:
    rows = _repeated_right_answer()
    unlabeled = [r.without_label() for r in rows]
    assert majority_vote(rows, rows) == majority_vote(unlabeled, unlabeled)


def test_majority_vote_on_comparisons_prefers_the_candidate_recurring_in_the_prompt() -> None:
    rows = [
        _c("1", "city of Noru?", "lima", "delhi", "B"),
        _c("2", "city of Noru?", "cairo", "delhi", "B"),
        _c("3", "city of Noru?", "delhi", "cairo", "A"),
        _c("4", "pet of Rina?", "bird", "cat", "A"),
        _c("5", "pet of Rina?", "dog", "bird", "B"),
    ]
    probs = majority_vote(rows, rows)
    assert accuracy(probs, rows) == 1.0


def test_majority_vote_on_balanced_comparisons_has_no_opinion() -> None:
    rows = [_c("1", "p", "x", "y", "A"), _c("2", "p", "y", "x", "B"), _c("3", "q", "u", "v", "B")]
    assert set(majority_vote(rows, rows).values()) == {0.5}


def test_answer_frequency_scores_answers_that_are_popular_across_questions() -> None:
    # The right answers ("yes"-like canonical strings) recur across questions; each distractor is unique.
    rows = []
    for k in range(6):
        rows += [_b(f"r{k}", f"q{k}", "paris", True), _b(f"w{k}", f"q{k}", f"wrong{k}", False)]
    assert accuracy(answer_frequency(rows, rows), rows) == 1.0
    # Within each question both candidates occur once: majority vote has nothing to go on.
    assert set(majority_vote(rows, rows).values()) == {0.5}


def test_answer_frequency_on_comparisons_prefers_the_globally_frequent_candidate() -> None:
    rows = [_c(str(k), f"p{k}", f"rare{k}", "common", "B") for k in range(3)]
    rows += [_c(f"s{k}", f"p{k}", "common", f"odd{k}", "A") for k in range(3)]
    assert accuracy(answer_frequency(rows, rows), rows) == 1.0


def test_answer_frequency_has_no_opinion_when_every_candidate_occurs_equally_often() -> None:
    rows = _balanced_binary()
    probs = answer_frequency(rows, rows)
    assert set(probs.values()) == {0.5}


def test_shortcut_predictions_names_every_known_shortcut_and_covers_every_test_id() -> None:
    rows = _repeated_right_answer()
    test = rows[:4]
    out = shortcut_predictions(test, rows)
    assert set(out) == set(SHORTCUTS) == {"majority-vote", "answer-frequency"}
    for probs in out.values():
        assert set(probs) == {r.id for r in test}


def test_shortcut_accuracies_report_chance_on_a_dataset_without_frequency_signal() -> None:
    rows = _balanced_binary()
    assert shortcut_accuracies(rows, rows) == {"majority-vote": 0.5, "answer-frequency": 0.5}
