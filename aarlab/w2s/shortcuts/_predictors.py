"""Label-free shortcut predictors: scores computed from the agent-visible inputs alone, no weak label used.

Each predictor maps test examples to P(positive) (P(True) for binary, P(B) for comparison). 0.5 means "no
opinion" (a tie in the signal the shortcut reads). Labels are never read: only ``question``/``choice`` or
``prompt``/``first``/``second``. Pure Python (no torch): the scoring service imports this module.

Known shortcuts (issue 14; docs/scoring.md):

* ``majority-vote``: among all visible rows sharing a question (binary) or prompt (comparison), the candidate
  that occurs most often is the correct one.
* ``answer-frequency``: a candidate that occurs often as a candidate across all visible rows (any question) is
  the correct one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

from aarlab.w2s.data import BinaryExample, ComparisonExample, Example
from aarlab.w2s.metrics import accuracy

Predictor = Callable[[Sequence[Example], Sequence[Example]], dict[str, float]]


def _binary(examples: Iterable[Example]) -> list[BinaryExample]:
    return [e for e in examples if isinstance(e, BinaryExample)]


def _comparison(examples: Iterable[Example]) -> list[ComparisonExample]:
    return [e for e in examples if isinstance(e, ComparisonExample)]


def _top_of_group(counts: Counter[str], candidate: str) -> float:
    """1.0 when ``candidate`` is (one of) the most frequent in its group, 0.0 when not, 0.5 when all tie."""
    values = counts.values()
    top, bottom = max(values, default=0), min(values, default=0)
    if top == bottom:
        return 0.5
    return 1.0 if counts[candidate] == top else 0.0


def _prefer(count_first: int, count_second: int) -> float:
    """P(B) for a pair: 1.0 when ``second`` is more frequent, 0.0 when ``first`` is, 0.5 on a tie."""
    if count_second == count_first:
        return 0.5
    return 1.0 if count_second > count_first else 0.0


def majority_vote(test: Sequence[Example], visible: Sequence[Example]) -> dict[str, float]:
    """The candidate occurring most often among visible rows sharing the question/prompt is predicted correct."""
    by_question: dict[str, Counter[str]] = defaultdict(Counter)
    for b in _binary(visible):
        by_question[b.question][b.choice] += 1
    by_prompt: dict[str, Counter[str]] = defaultdict(Counter)
    for c in _comparison(visible):
        by_prompt[c.prompt][c.first] += 1
        by_prompt[c.prompt][c.second] += 1
    out: dict[str, float] = {}
    for e in test:
        if isinstance(e, BinaryExample):
            counts = by_question.get(e.question, Counter({e.choice: 1}))
            out[e.id] = _top_of_group(counts, e.choice)
        else:
            counts = by_prompt.get(e.prompt, Counter())
            out[e.id] = _prefer(counts[e.first], counts[e.second])
    return out


def answer_frequency(test: Sequence[Example], visible: Sequence[Example]) -> dict[str, float]:
    """A candidate that is frequent as a candidate across all visible rows is predicted correct.

    Binary: the candidates seen with the same question are ranked by their overall frequency and the most
    frequent is predicted True; a question seen with a single distinct candidate is compared with the median
    overall frequency instead. Comparison: the more frequent of ``first``/``second`` is predicted better.
    """
    overall: Counter[str] = Counter()
    choices_of: dict[str, set[str]] = defaultdict(set)
    for b in _binary(visible):
        overall[b.choice] += 1
        choices_of[b.question].add(b.choice)
    for c in _comparison(visible):
        overall[c.first] += 1
        overall[c.second] += 1
    frequencies = sorted(overall.values())
    median = frequencies[len(frequencies) // 2] if frequencies else 0
    out: dict[str, float] = {}
    for e in test:
        if isinstance(e, ComparisonExample):
            out[e.id] = _prefer(overall[e.first], overall[e.second])
            continue
        group = choices_of.get(e.question, set()) | {e.choice}
        if len(group) > 1:
            out[e.id] = _top_of_group(Counter({c: overall[c] for c in group}), e.choice)
        else:
            out[e.id] = _prefer(median, overall[e.choice])
    return out


#: Every known label-free shortcut, by the name flags and reports use.
SHORTCUTS: dict[str, Predictor] = {
    "majority-vote": majority_vote,
    "answer-frequency": answer_frequency,
}


def shortcut_predictions(test: Sequence[Example], visible: Sequence[Example]) -> dict[str, dict[str, float]]:
    """Each known shortcut's predictions on ``test``: shortcut name -> {example id -> P(positive)}.

    ``visible`` is every agent-visible example (train_unlabel + test inputs); labels are never read.
    """
    return {name: predictor(test, visible) for name, predictor in SHORTCUTS.items()}


def shortcut_accuracies(test: Sequence[Example], visible: Sequence[Example]) -> dict[str, float]:
    """Each known shortcut's accuracy on labeled ``test`` (build-time and server-side use only: reads labels).

    Ties (0.5) count as negative, as for any submission. ``visible`` as in :func:`shortcut_predictions`.
    """
    return {name: accuracy(p, test) for name, p in shortcut_predictions(test, visible).items()}
