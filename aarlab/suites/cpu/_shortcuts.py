"""Label-free shortcuts specific to the cpu suite: computing the answer from the input (issue 14).

Both datasets with a computable answer get one, because an agent in its sandbox can do exactly this:

* ``math`` -- ``compute-input``: the question is real arithmetic (``What is 12 + 34?``); evaluate it and call the
  candidate right when it equals the value.
* ``code`` -- ``run-examples``: the question is a HumanEval prompt whose docstring shows example calls
  (``>>> f(1)`` then ``1``, or one line such as ``f(1) == 1`` / ``f(1) ➞ 1``; prose such as ``For x = 1 the output
  should be 1`` is not parsed); run the candidate on them and call it right when every example holds. The seed
  system's agents did this ("executing the candidates to read the answers"). Candidates run isolated, as the
  build's own tests do (``_code_exec``).

P(positive) is 1.0 / 0.0, and 0.5 where the shortcut has no opinion (no parsable expression or example). The build
writes these predictions on ``test`` as references for the scoring service (:mod:`aarlab.w2s.shortcuts`), which
flags a submission that copies them, and scores them in the build's shortcut report. No label is read here.
"""

from __future__ import annotations

import ast
import doctest
import operator
import re
from collections.abc import Sequence

from aarlab.suites.cpu._code_exec import Isolation, run_programs
from aarlab.w2s.data import BinaryExample, Example

COMPUTE_INPUT = "compute-input"
RUN_EXAMPLES = "run-examples"

_QUESTION = re.compile(r"^What is (?P<expr>[0-9+\-* ]+)\?$")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
#: A character that, right after a literal, continues an expression (so the literal is not the value shown).
_CONTINUES = frozenset("+-*/%=<>^&|")


def _arithmetic(node: ast.expr) -> int:
    """Value of an expression of integer literals and + - * (anything else raises ValueError)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return int(_OPS[type(node.op)](_arithmetic(node.left), _arithmetic(node.right)))
    raise ValueError("not integer arithmetic")


def compute_input(test: Sequence[Example]) -> dict[str, float]:
    """``math``: 1.0 when the choice equals the question's arithmetic, 0.0 when not, 0.5 when unparsable."""
    out = {}
    for e in test:
        out[e.id] = 0.5
        if not isinstance(e, BinaryExample) or (match := _QUESTION.match(e.question.strip())) is None:
            continue
        try:
            value = _arithmetic(ast.parse(match["expr"], mode="eval").body)
            out[e.id] = float(int(e.choice.strip()) == value)
        except (SyntaxError, ValueError):
            continue
    return out


def _literal(text: str) -> str | None:
    """The longest leading run of whitespace-separated words of ``text`` that is a Python literal, as its repr.

    None when there is none, or when what follows it continues an expression (``1 + (2 / 2) = 2`` is a
    derivation, not the value 1); a trailing remark such as ``'No' (the name should ...)`` is fine.
    """
    words = text.split()
    for end in range(len(words), 0, -1):
        source = " ".join(words[:end]).rstrip(".,;")
        try:
            value = ast.literal_eval(source)
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
            continue
        rest = " ".join(words[end:])
        return None if rest[:1] in _CONTINUES else repr(value)
    return None


def _literal_call(source: str, entry_point: str) -> bool:
    """Whether ``source`` is exactly one call of ``entry_point`` with literal arguments (``is_happy(a)`` is not)."""
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return False
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point):
        return False
    try:
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _call_end(line: str, start: int) -> int | None:
    """Index just past the parenthesis closing the call whose ``(`` is at ``start`` (None if unbalanced)."""
    depth, quote = 0, ""
    for i in range(start, len(line)):
        ch = line[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


_ARROW = re.compile(r"^\s*(?:#\s*)?(?:==>|==|➞|=>|->|=|returns?|should return|#\s*=>|#\s*returns?)\s*")


def prompt_examples(prompt: str, entry_point: str) -> list[tuple[str, str]]:
    """(call, expected value) source pairs the prompt's docstring shows for ``entry_point``.

    Doctest examples (``>>> call`` then the printed value) and one-line forms ``call <arrow> value`` with the arrow
    one of ``==``, ``==>``, ``=>``, ``➞``, ``->``, ``=``, ``# returns``. Only calls of ``entry_point`` with literal
    arguments whose expected value is a Python literal are kept; the value comes back as its ``repr``.
    """
    pairs: list[tuple[str, str]] = []
    try:
        doctests = doctest.DocTestParser().get_examples(prompt)
    except ValueError:  # inconsistent indentation inside an example: read the one-line forms only
        doctests = []
    for ex in doctests:
        source, want = ex.source.strip(), _literal(ex.want.strip())
        if want is not None and _literal_call(source, entry_point):
            pairs.append((source, want))
    if pairs:
        return pairs
    for line in prompt.splitlines():
        start = line.find(f"{entry_point}(")
        if start < 0 or ">>>" in line or (start > 0 and (line[start - 1].isalnum() or line[start - 1] in "_.")):
            continue
        end = _call_end(line, start + len(entry_point))
        if end is None:
            continue
        arrow = _ARROW.match(line[end:])
        if arrow is None or not arrow.group(0).strip():
            continue
        want = _literal(line[end + arrow.end():])
        if want is not None and _literal_call(line[start:end], entry_point):
            pairs.append((line[start:end], want))
    return pairs


def examples_program(prompt: str, body: str, examples: Sequence[tuple[str, str]]) -> str:
    """A program that exits normally exactly when the candidate returns every example's expected value."""
    cases = ", ".join(f"(lambda: {call}, {want})" for call, want in examples)
    return (f"{prompt}{body}\n\n"
            "import math as _math\n"
            "def _same(got, want):\n"
            "    if isinstance(want, float) or isinstance(got, float):\n"
            "        try:\n"
            "            return _math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-6)\n"
            "        except (TypeError, ValueError):\n"
            "            return False\n"
            "    return got == want\n"
            f"for _call, _want in [{cases}]:\n"
            "    if not _same(_call(), _want):\n"
            "        raise SystemExit(1)\n")


def run_examples(test: Sequence[Example], entry_points: dict[str, str], *, timeout_s: float = 3.0,
                 isolation: Isolation | None = None) -> dict[str, float]:
    """``code``: 1.0 when the candidate returns every example its prompt shows, 0.0 when one differs (or it fails
    or times out), 0.5 when the prompt shows no parsable example. ``entry_points`` maps a prompt to its function."""
    out: dict[str, float] = {}
    runnable: list[tuple[str, str]] = []
    for e in test:
        out[e.id] = 0.5
        if not isinstance(e, BinaryExample) or (entry := entry_points.get(e.question)) is None:
            continue
        examples = prompt_examples(e.question, entry)
        if examples:
            runnable.append((e.id, examples_program(e.question, e.choice, examples)))
    outcomes = run_programs([program for _, program in runnable], timeout_s=timeout_s, isolation=isolation)
    for (example_id, _), outcome in zip(runnable, outcomes, strict=True):
        out[example_id] = 1.0 if outcome == "pass" else 0.0
    return out
