"""The cpu suite's ``math`` dataset: is ``c`` the value of ``a op b``? Arithmetic generated from a seed.

Problems: two-digit additions and subtractions, one-digit products, two-digit by one-digit products and sums of
three one-digit numbers -- each expression once. Half the rows carry a wrong answer, **prior-matched**: the value of
another expression of the same family, drawn uniformly, so an answer alone says nothing about whether it is right
(the question-blind probe is at chance) and only the relation between question and answer does. An earlier
construction with *graded* errors (gross, wrong tens digit, near misses) let an answer-only probe beat the weak
teacher (0.567 vs 0.552: magnitudes such as ``ans * 10 + d`` give themselves away); see docs/results/cpu.md.
Gemma-3-270M knows little arithmetic (TESTBED.md), so this is the weakest cpu dataset.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from aarlab.suites.cpu._splits import split_by_group
from aarlab.w2s.data import BinaryExample, Dataset, Example

SPLIT_SIZES = {"train_label": 1000, "train_unlabel": 600, "test": 450}  # test takes the rest
COUNTS = {"add": 650, "sub": 650, "mul1": 81, "mul2": 360, "chain": 360}


@dataclass(frozen=True)
class Problem:
    """An expression and its value."""

    expression: str
    value: int
    family: str


def _problems(rng: random.Random) -> list[Problem]:
    found: dict[str, Problem] = {}

    def add(expression: str, value: int, family: str) -> None:
        found.setdefault(expression, Problem(expression, value, family))

    while sum(p.family == "add" for p in found.values()) < COUNTS["add"]:
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        add(f"{a} + {b}", a + b, "add")
    while sum(p.family == "sub" for p in found.values()) < COUNTS["sub"]:
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        add(f"{a} - {b}", a - b, "sub")
    for a in range(1, 10):
        for b in range(1, 10):
            add(f"{a} * {b}", a * b, "mul1")
    while sum(p.family == "mul2" for p in found.values()) < COUNTS["mul2"]:
        a, b = rng.randint(10, 99), rng.randint(2, 9)
        add(f"{a} * {b}", a * b, "mul2")
    while sum(p.family == "chain" for p in found.values()) < COUNTS["chain"]:
        a, b, c = rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 9)
        add(f"{a} + {b} + {c}", a + b + c, "chain")
    return sorted(found.values(), key=lambda p: p.expression)


def wrong_answer(value: int, family_values: list[int], rng: random.Random) -> int:
    """A prior-matched wrong answer: the value of another expression of the family (never ``value``)."""
    if not any(v != value for v in family_values):
        raise ValueError(f"the family holds no value other than {value}")
    while (wrong := rng.choice(family_values)) == value:
        pass
    return wrong


def build_math(seed: int = 0, secret: str = "") -> Dataset:
    """The three splits; each expression appears once, in one split.

    ``secret`` (the suite's build secret) is mixed into every draw: problems, splits, wrong answers.
    """
    rng = random.Random(f"{seed}:math" if not secret else f"{secret}:{seed}:math")
    problems = _problems(rng)
    values: dict[str, list[int]] = {}
    for p in problems:
        values.setdefault(p.family, []).append(p.value)
    splits = split_by_group(problems, lambda p: p.expression, SPLIT_SIZES, rng)
    out: dict[str, list[Example]] = {}
    for split, rows in splits.items():
        examples: list[Example] = []
        for index, problem in enumerate(rows):
            correct = rng.random() < 0.5
            choice = problem.value if correct else wrong_answer(problem.value, values[problem.family], rng)
            examples.append(BinaryExample(id=f"math-{split}-{index:05d}", question=f"What is {problem.expression}?",
                                          choice=str(choice), label=correct, subset=problem.family))
        out[split] = examples
    return Dataset(name="math", kind="binary", splits=out)
