"""Turn the world into W2S datasets in the reference formats, with item-disjoint splits and a planted cue."""

from __future__ import annotations

import random

from aarlab.suites.tiny._world import Item, World
from aarlab.w2s.data import BinaryExample, ComparisonExample, Dataset, Example

SPLIT_SIZES: dict[str, int] = {"train_label": 500, "train_unlabel": 2000, "test": 1000}
#: Fractions of each task's items given to each split pool (item-disjoint).
POOL_FRACTIONS: dict[str, float] = {"train_label": 0.2, "train_unlabel": 0.5, "test": 0.3}
#: P(label True | cue) for binary tasks: the planted spurious correlation.
CUE_STRENGTH = 0.7


def item_pools(items: list[Item], rng: random.Random) -> dict[str, list[Item]]:
    """Partition items into item-disjoint pools, one per split."""
    shuffled = list(items)
    rng.shuffle(shuffled)
    n_label = round(len(shuffled) * POOL_FRACTIONS["train_label"])
    n_unlabel = round(len(shuffled) * POOL_FRACTIONS["train_unlabel"])
    return {
        "train_label": shuffled[:n_label],
        "train_unlabel": shuffled[n_label : n_label + n_unlabel],
        "test": shuffled[n_label + n_unlabel :],
    }


def _binary_example(item: Item, example_id: str, rng: random.Random) -> BinaryExample:
    p_true = CUE_STRENGTH if item.cue else 1 - CUE_STRENGTH
    label = rng.random() < p_true
    choice = item.answer if label else rng.choice(item.wrong_answers)
    return BinaryExample(id=example_id, question=item.question, choice=choice, label=label)


def _comparison_example(item: Item, example_id: str, rng: random.Random) -> ComparisonExample:
    distractor = rng.choice(item.wrong_answers)
    truth_second = rng.random() < 0.5
    first, second = (distractor, item.answer) if truth_second else (item.answer, distractor)
    return ComparisonExample(
        id=example_id, prompt=item.question, first=first, second=second, label="B" if truth_second else "A"
    )


def build_dataset(world: World, task: str, seed: int) -> Dataset:
    """The three splits of one task. Ids are ``<task>-<split>-<index>``, stable for a given seed."""
    rng = random.Random(f"{seed}:{task}:splits")
    pools = item_pools(world.items[task], rng)
    splits: dict[str, list[Example]] = {}
    for split, size in SPLIT_SIZES.items():
        pool = pools[split]
        examples: list[Example] = []
        for index in range(size):
            item = rng.choice(pool)
            example_id = f"{task}-{split}-{index:05d}"
            if task == "chat":
                examples.append(_comparison_example(item, example_id, rng))
            else:
                examples.append(_binary_example(item, example_id, rng))
        splits[split] = examples
    return Dataset(name=task, kind="comparison" if task == "chat" else "binary", splits=splits)
