"""The cpu suite's code dataset: AST candidates, labels from executing the tests, no test code in agent files."""

import ast
import json
import random
from pathlib import Path

import pytest

from aarlab.suites.cpu._code import Problem, balanced, build_code, candidates_of, humaneval_problems
from aarlab.suites.cpu._code_exec import checked_program, default_isolation, run_programs
from aarlab.suites.cpu._code_mutants import function_body, make_candidate, render_body
from aarlab.w2s.data import SPLITS, load_dataset, write_agent_visible

ISOLATIONS = ["subprocess", *(["bubblewrap"] if default_isolation() == "bubblewrap" else [])]

PROBLEMS = [
    Problem("Toy/0", 'def below(x: int, limit: int) -> bool:\n    """Is x strictly below limit?"""\n',
            "    if x < limit:\n        return True\n    else:\n        return False\n",
            "def check(candidate):\n    assert candidate(1, 2) is True\n    assert candidate(2, 2) is False\n"
            "    assert candidate(3, 2) is False\n", "below"),
    Problem("Toy/1", 'def total(xs: list) -> int:\n    """Sum of xs plus one per element."""\n',
            "    acc = 0\n    for x in xs:\n        acc += x\n        acc += 1\n    return acc\n",
            "def check(candidate):\n    assert candidate([]) == 0\n    assert candidate([1, 2]) == 5\n"
            "    assert candidate([5]) == 6\n", "total"),
    Problem("Toy/2", 'def countdown(n: int) -> list:\n    """n, n-1, ..., 1."""\n',
            "    out = []\n    while n > 0:\n        out.append(n)\n        n -= 1\n    return out\n",
            "def check(candidate):\n    assert candidate(3) == [3, 2, 1]\n    assert candidate(0) == []\n",
            "countdown"),
]


@pytest.fixture(scope="module")
def humaneval() -> list[Problem]:
    return humaneval_problems()


def test_humaneval_ships_in_its_package(humaneval) -> None:
    assert len(humaneval) == 164 and humaneval[0].task_id == "HumanEval/0"


def test_candidates_are_valid_python_and_differ_from_the_canonical_body(humaneval) -> None:
    with_edits = 0
    for problem in [*PROBLEMS, *humaneval[:20]]:
        candidates = candidates_of(problem, random.Random(0))
        canonical, edits = candidates[0]
        assert edits == ()
        with_edits += len(candidates) > 1
        bodies = [body for body, _ in candidates]
        assert len(set(bodies)) == len(bodies)
        for body, edits in candidates[1:]:
            ast.parse(problem.prompt + body)
            assert body != canonical and edits
    assert with_edits >= 20  # a one-liner such as `return len(set(string.lower()))` has no site for any edit


def test_the_canonical_body_is_printed_like_every_other_candidate(humaneval) -> None:
    problem = humaneval[0]
    body, _ = function_body(problem.prompt + problem.canonical_solution, problem.entry_point)
    text = render_body(body)
    assert '"""' not in text  # the docstring stays in the prompt only
    assert text == render_body(function_body(problem.prompt + text, problem.entry_point)[0])


def test_a_mutation_without_a_site_gives_no_candidate() -> None:
    body, params = function_body("def f():\n    return x\n", "f")
    # only off-by-one / drop / ... could apply and none has a site in `return x` except none: all are None
    outcomes = {make_candidate(body, params, random.Random(seed), mutate=True, rewrites=0) for seed in range(30)}
    assert outcomes == {None}


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_labels_come_from_running_the_tests(isolation: str) -> None:
    problem = PROBLEMS[0]
    programs = [
        checked_program(problem.prompt, "    return x < limit\n", problem.test, problem.entry_point),
        checked_program(problem.prompt, "    return x <= limit\n", problem.test, problem.entry_point),
        checked_program(problem.prompt, "    raise ValueError('no')\n", problem.test, problem.entry_point),
        checked_program(problem.prompt, "    return\n", problem.test, problem.entry_point),
    ]
    assert run_programs(programs, isolation=isolation) == ["pass", "fail", "fail", "fail"]


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_an_infinite_loop_times_out_and_the_next_candidate_still_runs(isolation: str) -> None:
    problem = PROBLEMS[2]
    looping = checked_program(problem.prompt, "    while True:\n        pass\n", problem.test, problem.entry_point)
    good = checked_program(problem.prompt, "    return list(range(n, 0, -1))\n", problem.test, problem.entry_point)
    assert run_programs([looping, good], timeout_s=0.5, isolation=isolation) == ["timeout", "pass"]


def test_a_candidate_cannot_fake_a_pass_by_exiting_early() -> None:
    problem = PROBLEMS[0]
    program = checked_program(problem.prompt, "    import sys; sys.exit(0)\n", problem.test, problem.entry_point)
    assert run_programs([program]) == ["fail"]


def test_bad_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        run_programs(["pass"], timeout_s=0)


def test_balanced_keeps_as_many_passing_as_failing_candidates() -> None:
    from aarlab.suites.cpu._code import LabeledCandidate

    labeled = [LabeledCandidate("t", f"b{i}", (), "pass" if i < 5 else "fail") for i in range(7)]
    kept = balanced(labeled, random.Random(0), per_problem=3)
    assert sum(c.passes for c in kept) == 2 and len(kept) == 4


@pytest.fixture(scope="module")
def small_build(humaneval):
    report: dict = {}
    dataset = build_code(0, problems=[*PROBLEMS, *humaneval[:12]], report=report)
    return dataset, report


def test_build_labels_match_a_fresh_execution_and_splits_are_by_problem(small_build, humaneval) -> None:
    dataset, report = small_build
    assert report["executed"]["pass"] > 0 and report["executed"]["fail"] > 0
    by_prompt = {p.prompt: p for p in [*PROBLEMS, *humaneval[:12]]}
    rows = [e for s in SPLITS for e in dataset.splits[s]]
    programs = [checked_program(e.question, e.choice, by_prompt[e.question].test, by_prompt[e.question].entry_point)
                for e in rows]
    assert [o == "pass" for o in run_programs(programs)] == [e.label for e in rows]
    assert sum(e.label for e in rows) * 2 == len(rows)
    prompts = {s: {e.question for e in dataset.splits[s]} for s in SPLITS}
    assert not prompts["train_label"] & prompts["train_unlabel"] and not prompts["test"] & prompts["train_label"]
    assert not prompts["test"] & prompts["train_unlabel"]
    assert build_code(0, problems=[*PROBLEMS, *humaneval[:12]]).splits == dataset.splits


def test_no_test_code_reaches_agent_visible_files(small_build, humaneval, tmp_path: Path) -> None:
    dataset, _ = small_build
    write_agent_visible(tmp_path, dataset)
    text = "\n".join(p.read_text() for p in sorted(tmp_path.glob("*.jsonl")))
    assert "check(" not in text and "def check" not in text and "METADATA" not in text
    for problem in [*PROBLEMS, *humaneval[:12]]:
        for line in problem.test.splitlines():
            if line.strip().startswith("assert"):
                assert json.dumps(line.strip())[1:-1] not in text, line
    for record in (json.loads(line) for p in tmp_path.glob("*.jsonl") for line in p.read_text().splitlines()):
        assert set(record) == {"id", "question", "choice"}


def test_written_dataset_round_trips(small_build, tmp_path: Path) -> None:
    from aarlab.w2s.data import write_dataset

    dataset, _ = small_build
    write_dataset(tmp_path / "code", dataset)
    assert load_dataset(tmp_path / "code", name="code").splits == dataset.splits
