"""Group-disjoint splits: every question (or problem) group lands in exactly one split."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def split_by_group(items: Sequence[T], group_of: Callable[[T], str], sizes: dict[str, int],
                   rng: random.Random) -> dict[str, list[T]]:
    """Assign whole groups to splits in a random order until each split holds about ``sizes[split]`` items.

    Splits are filled in the order of ``sizes``; the last split takes every remaining group (its size is only a
    floor). Raises ``ValueError`` when there are fewer items than the sizes ask for.
    """
    if sum(sizes.values()) > len(items):
        raise ValueError(f"{len(items)} items cannot fill splits of sizes {sizes}")
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(group_of(item), []).append(item)
    keys = sorted(groups)
    rng.shuffle(keys)
    names = list(sizes)
    out: dict[str, list[T]] = {name: [] for name in names}
    current = 0
    for key in keys:
        while current < len(names) - 1 and len(out[names[current]]) >= sizes[names[current]]:
            current += 1
        out[names[current]].extend(groups[key])
    return out
