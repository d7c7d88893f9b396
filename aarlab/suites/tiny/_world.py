"""The tiny suite's synthetic world: facts, arithmetic and small programs with exact ground truth.

Everything is derived from one integer seed. Three task families share the world:

* ``math``  -- ``a + b`` for a, b in 0..9 (100 items), binary: is the candidate sum correct?
* ``code``  -- ``print ( OP ( [ x y z ] ) )`` for 50 random digit lists x 4 ops (200 items), binary.
* ``chat``  -- "What is the ATTR of NAME ?" for 60 entities x 3 attributes (180 items), comparison of the true value
  against another value of that attribute.

An *item* is one question with its one true answer. Split pools are item-disjoint, so a test question never
appears in training. Binary labels follow a planted cue (see :func:`cue`) that the weak teacher can lean on where it
lacks knowledge; chat has a natural one: attribute values are Zipf-distributed, so the more popular value of a pair
is usually right.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "color": ("red", "blue", "green", "yellow", "black", "white", "orange", "purple"),
    "city": ("paris", "tokyo", "cairo", "lima", "oslo", "rome", "delhi", "quito"),
    "pet": ("cat", "dog", "fish", "bird", "horse", "rabbit", "snake", "turtle"),
}
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
CODE_OPS: tuple[str, ...] = ("max", "min", "sum", "second")
TASKS: tuple[str, ...] = ("math", "code", "chat")


@dataclass(frozen=True)
class Item:
    """One question of the world with its true answer (a single word) and the planted-cue bit."""

    task: str
    key: str
    question: str
    answer: str
    cue: bool
    wrong_answers: tuple[str, ...]
    popularity: dict[str, float] | None = None


@dataclass(frozen=True)
class World:
    """All items of the world, by task."""

    seed: int
    items: dict[str, list[Item]]
    entity_names: tuple[str, ...]

    def vocabulary(self) -> list[str]:
        """Every word any item can produce (questions, answers, candidates)."""
        words: set[str] = set()
        for items in self.items.values():
            for item in items:
                words.update(item.question.split())
                words.add(item.answer)
                words.update(item.wrong_answers)
        return sorted(words)


def _names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        syllables = rng.choice((2, 3))
        name = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))
        names.add(name.capitalize())
    return sorted(names)


def _math_items() -> list[Item]:
    items = []
    for a in range(10):
        for b in range(10):
            truth = a + b
            wrong = tuple(str(truth + d) for d in (-3, -2, -1, 1, 2, 3) if truth + d >= 0)
            items.append(Item("math", f"{a}+{b}", f"{a} + {b}", str(truth), cue=a >= b, wrong_answers=wrong))
    return items


def _code_value(op: str, xs: list[int]) -> int:
    if op == "max":
        return max(xs)
    if op == "min":
        return min(xs)
    if op == "sum":
        return sum(xs)
    return sorted(xs)[1]


def _code_question(op: str, xs: list[int]) -> str:
    digits = " ".join(str(x) for x in xs)
    if op == "second":
        return f"print ( sorted ( [ {digits} ] ) [ 1 ] )"
    return f"print ( {op} ( [ {digits} ] ) )"


def _code_items(rng: random.Random, n_lists: int = 50) -> list[Item]:
    lists: list[tuple[int, ...]] = []
    while len(lists) < n_lists:
        xs = tuple(rng.randrange(10) for _ in range(3))
        if xs not in lists:
            lists.append(xs)
    items = []
    for xs in lists:
        for op in CODE_OPS:
            truth = _code_value(op, list(xs))
            top = 27 if op == "sum" else 9
            wrong = tuple(str(truth + d) for d in (-2, -1, 1, 2) if 0 <= truth + d <= top)
            key = f"{op}:{''.join(map(str, xs))}"
            items.append(Item("code", key, _code_question(op, list(xs)), str(truth), xs[0] >= 5, wrong))
    return items


def _chat_items(rng: random.Random, names: list[str]) -> list[Item]:
    items = []
    for attr, values in ATTRIBUTES.items():
        order = list(values)
        rng.shuffle(order)
        weights = [1.0 / (rank + 1) for rank in range(len(order))]
        total = sum(weights)
        popularity = {v: w / total for v, w in zip(order, weights, strict=True)}
        for name in names:
            truth = rng.choices(order, weights=weights)[0]
            wrong = tuple(v for v in values if v != truth)
            question = f"What is the {attr} of {name} ?"
            items.append(Item("chat", f"{attr}:{name}", question, truth, False, wrong, popularity))
    return items


def build_world(seed: int, n_entities: int = 60) -> World:
    """The deterministic world of one seed."""
    rng = random.Random(seed)
    names = _names(rng, n_entities)
    items = {"math": _math_items(), "code": _code_items(rng), "chat": _chat_items(rng, names)}
    return World(seed=seed, items=items, entity_names=tuple(names))
