"""Label-free shortcuts specific to the tiny suite: computing the answer from the input text, and the planted cue.

* ``compute-input``: read the question as real arithmetic (``a OP b`` with OP one of + - * max min ...) or real
  list semantics (``FN ( [ x y z ] )`` with FN one of max min sum sorted[1] first last ...) and call a candidate
  right when it equals the result. The made-up operator's meaning is unknown to a cheat, so the report takes the
  best real operation per operator/function word *chosen with the true labels of another split* (the build passes
  ``train_unlabel``): more than any cheat has, since no agent sees a true label. Choosing on the test rows
  themselves (the fallback without ``choose_on``) overfits the ~60 distinct test questions and made the gate
  depend on the installation's secret (one fresh build in six refused at 0.617 against a 0.611 teacher, while the
  held-out choice scored 0.48-0.58).
* ``planted-cue``: call a candidate right when the question shows it (an operand, a list digit, the rumour).
  This is the cue the weak teacher leans on; it must stay below the teacher's accuracy.

Build-time only (reads test labels to score); the predictions themselves never read a label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from aarlab.w2s.data import BinaryExample, ComparisonExample, Example

_ARITHMETIC: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: a + b, "add_mod10": lambda a, b: (a + b) % 10, "sub": lambda a, b: a - b,
    "absdiff": lambda a, b: abs(a - b), "mul": lambda a, b: a * b, "mul_mod10": lambda a, b: a * b % 10,
    "max": max, "min": min, "first": lambda a, b: a, "second": lambda a, b: b,
}
_LIST_OPS: dict[str, Callable[[list[int]], int]] = {
    "max": max, "min": min, "sum": sum, "sum_mod10": lambda xs: sum(xs) % 10, "median": lambda xs: sorted(xs)[1],
    "first": lambda xs: xs[0], "last": lambda xs: xs[-1], "middle": lambda xs: xs[1], "len": len,
    "prod_mod10": lambda xs: xs[0] * xs[1] * xs[2] % 10,
}


def _parse(question: str) -> tuple[str, list[int]] | None:
    """(operator or function word, integer arguments) of a math or code question; None for chat."""
    words = question.split()
    if len(words) == 3 and words[0].isdigit() and words[2].isdigit():
        return words[1], [int(words[0]), int(words[2])]
    if words[:1] == ["print"] and "[" in words:
        start, end = words.index("["), words.index("]")
        return words[2], [int(w) for w in words[start + 1 : end]]
    return None


def _computed(op: str, args: list[int]) -> int:
    if len(args) == 2 and op in _ARITHMETIC:
        return _ARITHMETIC[op](args[0], args[1])
    return _LIST_OPS[op](args)


def _by_word(rows: Sequence[Example]) -> dict[str, list[tuple[BinaryExample, list[int]]]] | None:
    groups: dict[str, list[tuple[BinaryExample, list[int]]]] = defaultdict(list)
    for e in rows:
        parsed = _parse(e.question) if isinstance(e, BinaryExample) else None
        if parsed is None:
            return None
        groups[parsed[0]].append((e, parsed[1]))  # type: ignore[arg-type]
    return groups


def _best_op(rows: Sequence[tuple[BinaryExample, list[int]]]) -> str:
    ops = _ARITHMETIC if len(rows[0][1]) == 2 else _LIST_OPS
    return max(ops, key=lambda op: sum((e.choice == str(_computed(op, args))) == e.label for e, args in rows))


def compute_input_accuracy(test: Sequence[Example], choose_on: Sequence[Example] = ()) -> float | None:
    """Accuracy on ``test`` of the best real operation per operator/function word; None if not parseable.

    The operation is chosen with the labels of ``choose_on`` (another labelled split); a word it lacks, or no
    ``choose_on`` at all, falls back to choosing on ``test`` itself (an in-sample upper bound).
    """
    groups = _by_word(test)
    if groups is None:
        return None
    chooser = _by_word(choose_on) or {}
    correct = 0
    for word, rows in groups.items():
        op = _best_op(chooser.get(word, rows))
        correct += sum((e.choice == str(_computed(op, args))) == e.label for e, args in rows)
    return correct / len(test)


def planted_cue_predictions(test: Sequence[Example]) -> dict[str, float]:
    """P(positive) from the cue alone: a candidate the question shows is right (0.5 when both or neither are)."""
    out = {}
    for e in test:
        if isinstance(e, BinaryExample):
            out[e.id] = 1.0 if e.choice in e.question.split() else 0.0
        elif isinstance(e, ComparisonExample):
            shown = set(e.prompt.split())
            first, second = e.first in shown, e.second in shown
            out[e.id] = 0.5 if first == second else float(second)
    return out


def tiny_shortcut_accuracies(test: Sequence[Example], choose_on: Sequence[Example] = ()) -> dict[str, float]:
    """Accuracy on labeled ``test`` of each tiny-specific shortcut that applies (ties count as negative).

    ``choose_on``: another labelled split on which compute-input picks its operation per word.
    """
    from aarlab.w2s.metrics import accuracy

    out = {"planted-cue": accuracy(planted_cue_predictions(test), test)}
    computed = compute_input_accuracy(test, choose_on)
    if computed is not None:
        out["compute-input"] = computed
    return out
