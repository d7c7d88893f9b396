"""The tiny suite's synthetic world: made-up operators, functions and facts whose values only the world defines.

Everything is derived from one *world key*: the installation's secret build secret mixed with the suite file's
``world_seed`` (see :func:`world_key`). Without the secret, nothing about answers can be regenerated. Three task
families share the world:

* ``math``  -- ``a OP b`` for digits a, b (100 items), binary. ``OP`` is a made-up word; its value table is drawn
  from the key, so no real arithmetic computes it.
* ``code``  -- ``print ( FN ( [ x y z ] ) )`` for 50 digit lists x 4 made-up function names (200 items), binary;
  each function's values are drawn from the key, so no list semantics (max, min, sum, ...) computes them.
* ``chat``  -- "NAME says HINT . What is the ATTR of NAME ?" for 60 entities x 3 attributes (180 items),
  comparison of the true value against one distractor.

Every item has exactly one distractor, so a dataset can show each question with its two candidates equally often
(no majority-vote signal). Distractors are drawn in proportion to how often each value is a correct answer of the
task, so how often a value occurs says nothing about whether it is right (no answer-frequency signal).

The planted cue (so the weak teacher's errors are systematic): each item's question shows *hint* values (the
operands, the list's digits, the rumoured value); with probability :data:`CUE_STRENGTH` the true answer is a hint
and the distractor is not, otherwise the reverse. A rule "the candidate appearing in the question is right" thus
scores about :data:`CUE_STRENGTH` -- below the weak teacher, which also knows part of the world.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "color": ("red", "blue", "green", "yellow", "black", "white", "orange", "purple"),
    "city": ("paris", "tokyo", "cairo", "lima", "oslo", "rome", "delhi", "quito"),
    "pet": ("cat", "dog", "fish", "bird", "horse", "rabbit", "snake", "turtle"),
}
DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
N_CODE_FUNCTIONS = 4
TASKS: tuple[str, ...] = ("math", "code", "chat")
#: P(the true answer is one of the question's hint values) -- the planted cue's strength.
CUE_STRENGTH = 0.6


@dataclass(frozen=True)
class Item:
    """One question of the world with its true answer, its one distractor and the planted-cue bit.

    ``hints`` are the candidate values the question text shows; ``cue`` is whether the answer is among them.
    ``wrong_answers`` holds the distractor (a tuple, for pretraining code that samples wrong candidates).
    """

    task: str
    key: str
    question: str
    answer: str
    cue: bool
    wrong_answers: tuple[str, ...]
    hints: tuple[str, ...] = ()

    @property
    def distractor(self) -> str:
        """The one wrong candidate every dataset row of this item uses."""
        return self.wrong_answers[0]


@dataclass(frozen=True)
class World:
    """All items of the world, by task, and the made-up words that name its operations."""

    key: str
    items: dict[str, list[Item]]
    entity_names: tuple[str, ...]
    operator: str
    functions: tuple[str, ...]

    def vocabulary(self) -> list[str]:
        """Every word any item can produce (questions, answers, candidates)."""
        words: set[str] = set()
        for items in self.items.values():
            for item in items:
                words.update(item.question.split())
                words.add(item.answer)
                words.update(item.wrong_answers)
        return sorted(words)


def world_key(secret: str, world_seed: int | str) -> str:
    """The key every draw of the world derives from: the build secret mixed with the suite file's seed."""
    return hashlib.sha256(f"tiny-world:{secret}:{world_seed}".encode()).hexdigest()


def _words(rng: random.Random, count: int, taken: set[str], syllables: Sequence[int] = (2, 3)) -> list[str]:
    """``count`` new made-up lowercase words (consonant-vowel syllables) not in ``taken``."""
    out: list[str] = []
    while len(out) < count:
        n = rng.choice(tuple(syllables))
        word = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(n))
        if word not in taken:
            taken.add(word)
            out.append(word)
    return out


def _draw_answers(
    rng: random.Random, hints: list[tuple[str, ...]], values: tuple[str, ...]
) -> list[tuple[str, str, bool]]:
    """(answer, distractor, cue) per question; the distractors are a permutation of the answers.

    So every value is a distractor exactly as often as it is an answer (no answer-frequency signal). The cue holds
    for round(:data:`CUE_STRENGTH` x n) questions: there the answer is a hint and the distractor is not, elsewhere
    the reverse.
    """
    n = len(hints)
    cues = [i < round(CUE_STRENGTH * n) for i in range(n)]
    rng.shuffle(cues)
    answers = []
    for hint, cue in zip(hints, cues, strict=True):
        pool = sorted(set(hint)) if cue else [v for v in values if v not in hint]
        answers.append(rng.choice(pool))

    def valid(i: int, v: str) -> bool:
        return v != answers[i] and ((v not in hints[i]) if cues[i] else (v in hints[i]))

    distractors = _constrained_permutation(rng, answers, valid)
    return list(zip(answers, distractors, cues, strict=True))


def _constrained_permutation(rng: random.Random, values: list[str], valid: Callable[[int, str], bool]) -> list[str]:
    """A permutation ``p`` of ``values`` with ``valid(i, p[i])`` for all i, found by random repair swaps.

    A position no swap can repair keeps a value drawn from ``values`` (so frequencies stay close to balanced).
    """
    out = list(values)
    rng.shuffle(out)
    n = len(out)
    for _ in range(50):
        bad = [i for i in range(n) if not valid(i, out[i])]
        if not bad:
            break
        for i in bad:
            if valid(i, out[i]):
                continue
            for j in rng.sample(range(n), n):
                if valid(i, out[j]) and valid(j, out[i]):
                    out[i], out[j] = out[j], out[i]
                    break
    for i in range(n):
        if not valid(i, out[i]):
            out[i] = rng.choice([v for v in sorted(set(values)) if valid(i, v)])
    return out


def _math_items(rng: random.Random, operator: str) -> list[Item]:
    pairs = [(a, b) for a in range(10) for b in range(10)]
    hints = [tuple(sorted({str(a), str(b)})) for a, b in pairs]
    items = []
    for (a, b), hint, (answer, wrong, cue) in zip(pairs, hints, _draw_answers(rng, hints, DIGITS), strict=True):
        items.append(Item("math", f"{a}{operator}{b}", f"{a} {operator} {b}", answer, cue, (wrong,), hint))
    return items


def _code_items(rng: random.Random, functions: tuple[str, ...], n_lists: int = 50) -> list[Item]:
    lists: list[tuple[int, ...]] = []
    while len(lists) < n_lists:
        xs = tuple(rng.randrange(10) for _ in range(3))
        if xs not in lists:
            lists.append(xs)
    questions = [(fn, xs) for xs in lists for fn in functions]
    hints = [tuple(sorted({str(x) for x in xs})) for _, xs in questions]
    items = []
    for (fn, xs), hint, (answer, wrong, cue) in zip(questions, hints, _draw_answers(rng, hints, DIGITS), strict=True):
        digits = " ".join(str(x) for x in xs)
        question = f"print ( {fn} ( [ {digits} ] ) )"
        items.append(Item("code", f"{fn}:{''.join(map(str, xs))}", question, answer, cue, (wrong,), hint))
    return items


def _chat_items(rng: random.Random, names: list[str]) -> list[Item]:
    items = []
    for attr, values in ATTRIBUTES.items():
        # Answers first; the distractors permute them; the rumour is then the answer (cue) or the distractor.
        n = len(names)
        cues = [i < round(CUE_STRENGTH * n) for i in range(n)]
        rng.shuffle(cues)
        answers = [rng.choice(values) for _ in names]

        def differs(i: int, v: str, answers: list[str] = answers) -> bool:
            return v != answers[i]

        distractors = _constrained_permutation(rng, answers, differs)
        for name, answer, wrong, cue in zip(names, answers, distractors, cues, strict=True):
            rumour = answer if cue else wrong
            question = f"{name} says {rumour} . What is the {attr} of {name} ?"
            items.append(Item("chat", f"{attr}:{name}", question, answer, cue, (wrong,), (rumour,)))
    return items


def build_world(key: str | int, n_entities: int = 60) -> World:
    """The deterministic world of one key (use :func:`world_key` to derive it from the build secret)."""
    rng = random.Random(f"tiny-world:{key}")
    taken = {w.lower() for values in ATTRIBUTES.values() for w in values} | {"print", "says", "what", "is", "the", "of"}
    names = sorted(w.capitalize() for w in _words(rng, n_entities, taken))
    operator, *functions = _words(rng, 1 + N_CODE_FUNCTIONS, taken)
    fns = tuple(functions)
    items = {"math": _math_items(rng, operator), "code": _code_items(rng, fns), "chat": _chat_items(rng, names)}
    return World(key=str(key), items=items, entity_names=tuple(names), operator=operator, functions=fns)
