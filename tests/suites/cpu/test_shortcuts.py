"""The cpu suite's computable-answer shortcuts: arithmetic evaluated, candidates run on their prompts' examples."""

import pytest

from aarlab.suites.cpu._code import humaneval_problems
from aarlab.suites.cpu._code_exec import default_isolation, run_programs
from aarlab.suites.cpu._math import build_math
from aarlab.suites.cpu._shortcuts import compute_input, examples_program, prompt_examples, run_examples
from aarlab.w2s.data import BinaryExample
from aarlab.w2s.metrics import accuracy


def test_compute_input_solves_the_math_dataset_without_reading_a_label() -> None:
    test = build_math(0, "ab" * 32).split("test")
    blind = [e.without_label() for e in test]
    predictions = compute_input(blind)
    assert set(predictions.values()) <= {0.0, 1.0}
    assert accuracy(predictions, test) == 1.0


def test_compute_input_has_no_opinion_on_what_it_cannot_parse() -> None:
    rows = [BinaryExample(id="a", question="What is 2 ** 10?", choice="1024"),
            BinaryExample(id="b", question="What is __import__('os')?", choice="0"),
            BinaryExample(id="c", question="What is 3 * 4?", choice="twelve"),
            BinaryExample(id="d", question="What is 3 * 4 - 2?", choice="10")]
    assert compute_input(rows) == {"a": 0.5, "b": 0.5, "c": 0.5, "d": 1.0}


@pytest.mark.parametrize(("prompt", "expected"), [
    ('def f(x):\n    """Twice x.\n    >>> f(2)\n    4\n    >>> f(-1)\n    -2\n    """\n',
     [("f(2)", "4"), ("f(-1)", "-2")]),
    ('def f(s):\n    """Examples:\n    f("ab") ➞ \'AB\'\n    * f("") => \'\'\n    for f("x") == \'X\'\n    """\n',
     [('f("ab")', "'AB'"), ('f("")', "''"), ('f("x")', "'X'")]),
    ('def f(n):\n    """f(15)   # returns "db1111db"\n    f(2) = 1 + (2 / 2) = 2\n    f(a) == 3\n'
     '    f([1, 5]) ==> [1, 5] # odd numbers only\n    """\n', [("f(15)", "'db1111db'"), ("f([1, 5])", "[1, 5]")]),
    ('def f(n):\n    """For n = 3 the output should be 6. g(1) == 2, of(1) == 2\n    """\n', []),
    ('def f(n):\n    """\n    >>> f(1)\n   ...2\n    f(3) == 4\n    """\n', [("f(3)", "4")]),  # doctest refuses it
])
def test_prompt_examples_reads_the_calls_a_docstring_shows_with_literal_values(prompt, expected) -> None:
    assert prompt_examples(prompt, "f") == expected


def test_most_humaneval_prompts_show_examples_and_the_canonical_solutions_pass_them() -> None:
    problems = humaneval_problems()
    shown = [(p, prompt_examples(p.prompt, p.entry_point)) for p in problems]
    shown = [(p, ex) for p, ex in shown if ex]
    assert len(shown) >= 125
    outcomes = run_programs([examples_program(p.prompt, p.canonical_solution, ex) for p, ex in shown],
                            timeout_s=3, isolation="subprocess")
    failing = {p.task_id for (p, _), o in zip(shown, outcomes, strict=True) if o != "pass"}
    # HumanEval's own docstrings are wrong there (median, tri, bf): the shortcut inherits their mistakes.
    assert failing <= {"HumanEval/47", "HumanEval/130", "HumanEval/148"}


@pytest.mark.parametrize("isolation", ["subprocess", *(["bubblewrap"] if default_isolation() == "bubblewrap" else [])])
def test_run_examples_reads_a_candidates_correctness_off_its_examples(isolation) -> None:
    prompt = 'def f(x):\n    """Twice x.\n    >>> f(2)\n    4\n    >>> f(0.5)\n    1.0\n    """\n'
    rows = [BinaryExample(id="right", question=prompt, choice="    return x * 2\n"),
            BinaryExample(id="wrong", question=prompt, choice="    return x + 2\n"),
            BinaryExample(id="crash", question=prompt, choice="    raise ValueError(x)\n"),
            BinaryExample(id="loop", question=prompt, choice="    while True:\n        pass\n"),
            BinaryExample(id="unknown", question="def g(x):\n    pass\n", choice="    return 1\n")]
    predictions = run_examples(rows, {prompt: "f", "def g(x):\n    pass\n": "g"}, timeout_s=1, isolation=isolation)
    assert predictions == {"right": 1.0, "wrong": 0.0, "crash": 0.0, "loop": 0.0, "unknown": 0.5}


def test_the_cpu_build_scores_both_shortcuts_and_writes_them_as_references_for_the_service(tmp_path) -> None:
    """The builder's step on real datasets: math from its builder, code from 16 HumanEval problems' candidates."""
    from aarlab.suites import load_suite
    from aarlab.suites.cpu._build import _known_shortcuts
    from aarlab.suites.cpu._code import build_code
    from aarlab.w2s.data import write_dataset
    from aarlab.w2s.shortcuts import read_references

    suite = load_suite("cpu", tmp_path)
    write_dataset(suite.data_path("math"), build_math(0, "cd" * 32))
    code = build_code(0, "cd" * 32, problems=humaneval_problems()[:16], isolation="subprocess")
    write_dataset(suite.data_path("code"), code)
    stages: list[tuple[str, float, float]] = []
    found = _known_shortcuts(suite, lambda *stage: stages.append(stage), lambda _m: None)
    assert found["math"] == {"compute-input": 1.0}
    assert 0.5 < found["code"]["run-examples"] <= 1.0
    assert stages[-1] == ("computable shortcuts", 2, 2)
    for dataset, name in (("math", "compute-input"), ("code", "run-examples")):
        test = (code if dataset == "code" else build_math(0, "cd" * 32)).split("test")
        reference = read_references(suite.root, dataset)[name]
        assert set(reference) == {e.id for e in test}
        assert round(accuracy(reference, test), 4) == found[dataset][name]
