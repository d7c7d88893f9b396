"""The cpu suite's ``math`` dataset: is ``c`` the value of ``a op b``? Arithmetic generated from a seed.

Problems: two-digit additions and subtractions, one-digit products, two-digit by one-digit products and sums of
three one-digit numbers -- each expression once. Half the rows carry a wrong answer, *graded* so that some errors are
detectable by a small model: 40% gross (the answer with an extra digit, +100..900, or a dropped digit), 30% a wrong
tens digit (+-10, +-20, +30), 30% near misses (+-1, +-2). Gemma-3-270M knows little arithmetic (TESTBED.md), so
only gross errors are within its reach: the weakest cpu dataset.
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


def wrong_answer(value: int, rng: random.Random) -> int:
    """A graded wrong answer: gross 40%, wrong tens digit 30%, near miss 30%; never equal to ``value``."""
    while True:
        r = rng.random()
        if r < 0.4:
            wrong = rng.choice([value * 10 + rng.randint(0, 9), value + 100 * rng.randint(1, 9), value // 10])
        elif r < 0.7:
            wrong = value + rng.choice([-20, -10, 10, 20, 30])
        else:
            wrong = value + rng.choice([-2, -1, 1, 2])
        if wrong != value:
            return wrong


def build_math(seed: int = 0) -> Dataset:
    """The three splits; each expression appears once, in one split."""
    rng = random.Random(f"{seed}:math")
    splits = split_by_group(_problems(rng), lambda p: p.expression, SPLIT_SIZES, rng)
    out: dict[str, list[Example]] = {}
    for split, rows in splits.items():
        examples: list[Example] = []
        for index, problem in enumerate(rows):
            correct = rng.random() < 0.5
            choice = problem.value if correct else wrong_answer(problem.value, rng)
            examples.append(BinaryExample(id=f"math-{split}-{index:05d}", question=f"What is {problem.expression}?",
                                          choice=str(choice), label=correct, subset=problem.family))
        out[split] = examples
    return Dataset(name="math", kind="binary", splits=out)
