"""Turn the world into W2S datasets in the reference formats: item-disjoint splits with no frequency signal.

Every question of a split appears equally often with each of its two candidates (binary: the answer and the
distractor as ``choice``; comparison: the answer first and the answer second), so neither the candidate that recurs
most within a question nor the row order tells which one is right. Rows are shuffled before ids are given, so ids
say nothing about which rows share a question. Binary labels are balanced within every question; the planted cue
lives in the world (see :data:`aarlab.suites.tiny._world.CUE_STRENGTH`).
"""

from __future__ import annotations

import random

from aarlab.suites.tiny._world import CUE_STRENGTH, Item, World
from aarlab.w2s.data import BinaryExample, ComparisonExample, Dataset, Example

__all__ = ["CUE_STRENGTH", "POOL_FRACTIONS", "SPLIT_SIZES", "build_dataset", "item_pools"]

#: Target rows per split; the actual size is the nearest multiple of 2 x the split's item count.
SPLIT_SIZES: dict[str, int] = {"train_label": 500, "train_unlabel": 2000, "test": 1000}
#: Fractions of each task's items given to each split pool (item-disjoint).
POOL_FRACTIONS: dict[str, float] = {"train_label": 0.2, "train_unlabel": 0.5, "test": 0.3}


def item_pools(items: list[Item], rng: random.Random) -> dict[str, list[Item]]:
    """Partition items into item-disjoint pools, one per split, each with the same share of cue items."""
    pools: dict[str, list[Item]] = {split: [] for split in POOL_FRACTIONS}
    for cue in (True, False):
        stratum = [i for i in items if i.cue == cue]
        rng.shuffle(stratum)
        n_label = round(len(stratum) * POOL_FRACTIONS["train_label"])
        n_unlabel = round(len(stratum) * POOL_FRACTIONS["train_unlabel"])
        pools["train_label"] += stratum[:n_label]
        pools["train_unlabel"] += stratum[n_label : n_label + n_unlabel]
        pools["test"] += stratum[n_label + n_unlabel :]
    return pools


def _rows(pool: list[Item], size: int) -> list[tuple[Item, int]]:
    """(item, variant) pairs: each item ``reps`` times with each of its two variants."""
    reps = max(1, round(size / (2 * len(pool))))
    return [(item, variant) for item in pool for _ in range(reps) for variant in (0, 1)]


def _example(task: str, item: Item, variant: int, example_id: str) -> Example:
    if task == "chat":
        truth_second = bool(variant)
        first, second = (item.distractor, item.answer) if truth_second else (item.answer, item.distractor)
        return ComparisonExample(id=example_id, prompt=item.question, first=first, second=second,
                                 label="B" if truth_second else "A")
    right = not variant
    return BinaryExample(id=example_id, question=item.question, choice=item.answer if right else item.distractor,
                         label=right)


def build_dataset(world: World, task: str, seed: int | str) -> Dataset:
    """The three splits of one task. Ids are ``<task>-<split>-<index>`` over shuffled rows, stable per key and seed."""
    rng = random.Random(f"{world.key}:{seed}:{task}:splits")
    pools = item_pools(world.items[task], rng)
    splits: dict[str, list[Example]] = {}
    for split, size in SPLIT_SIZES.items():
        rows = _rows(pools[split], size)
        rng.shuffle(rows)
        splits[split] = [_example(task, item, variant, f"{task}-{split}-{index:05d}")
                         for index, (item, variant) in enumerate(rows)]
    return Dataset(name=task, kind="comparison" if task == "chat" else "binary", splits=splits)
