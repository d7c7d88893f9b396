"""Fact comparisons shared by the cpu suite's knowledge datasets (``chat``, ``companies``, ``etymology``).

A :class:`Fact` is one question with its correct answer and the pool its distractor is drawn from. Each becomes a
comparison: the correct answer and one distractor in random order. Pools are **prior-matched** where answers repeat
(an entity is drawn as a distractor in proportion to how often it is a correct answer), so an answer's popularity
says nothing about whether it is right and the question-blind baseline (a probe on the answers alone) stays at
chance.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aarlab.suites.cpu._splits import split_by_group
from aarlab.w2s.data import ComparisonExample, Dataset, Example


@dataclass(frozen=True)
class Fact:
    """One question with its correct answer and the pool its distractor is drawn from (entity -> weight)."""

    relation: str
    group: str
    question: str
    answer: str
    pool: tuple[tuple[str, float], ...]


def weighted_pool(candidates: Iterable[str], counts: Counter[str], exclude: str) -> tuple[tuple[str, float], ...]:
    """``candidates`` other than ``exclude``, each weighted by how often it is a correct answer (0 drops it)."""
    return tuple((c, float(counts[c])) for c in sorted(set(candidates)) if c != exclude and counts[c] > 0)


def capped_answers(pairs: Iterable[tuple[str, str]], max_per_answer: int,
                   min_per_answer: int) -> tuple[list[tuple[str, str]], Counter[str]]:
    """``(key, answer)`` pairs with at most ``max_per_answer`` per answer -- the first in order of the key's hash,
    not of the seed -- and the kept pairs' answer counts restricted to answers with at least ``min_per_answer``
    (callers drop the pairs whose answer is not counted)."""
    asked: Counter[str] = Counter()
    kept = []
    for key, answer in sorted(pairs, key=lambda pair: hashlib.sha256(pair[0].encode()).hexdigest()):
        asked[answer] += 1
        if asked[answer] <= max_per_answer:
            kept.append((key, answer))
    counts = Counter(answer for _, answer in kept)
    return kept, Counter({answer: n for answer, n in counts.items() if n >= min_per_answer})


def build_comparisons(name: str, facts: Sequence[Fact], sizes: dict[str, int], rng: random.Random) -> Dataset:
    """Group-disjoint splits of ``facts`` (sizes as :func:`split_by_group`), one comparison per fact.

    Every draw comes from ``rng`` in a fixed order (splits, then per fact: distractor, answer side), so a build is
    reproducible from the seed string the caller made ``rng`` from.
    """
    splits = split_by_group(facts, lambda f: f.group, sizes, rng)
    out: dict[str, list[Example]] = {}
    for split, rows in splits.items():
        examples: list[Example] = []
        for index, fact in enumerate(rows):
            names, weights = zip(*fact.pool, strict=True)
            distractor = rng.choices(names, weights=weights)[0]
            truth_second = rng.random() < 0.5
            first, second = (distractor, fact.answer) if truth_second else (fact.answer, distractor)
            examples.append(ComparisonExample(id=f"{name}-{split}-{index:05d}", prompt=fact.question, first=first,
                                              second=second, label="B" if truth_second else "A",
                                              subset=fact.relation))
        out[split] = examples
    return Dataset(name=name, kind="comparison", splits=out)
