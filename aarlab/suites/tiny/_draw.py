"""Drawing a world whose datasets no label-free shortcut beats the planted cue on.

The made-up operators and functions of a world have values drawn from the key, so by chance one can agree with a
real operation (``first``, ``max``, ...) on more rows than the cue the weak teacher leans on; with ~30 distinct
test questions per task that happened in about one fresh secret in six and the build was refused after minutes of
pretraining. The draw is checked before any model trains: every shortcut computable from the datasets alone
(majority vote, answer frequency, computing the input with the operation chosen on ``train_unlabel``) must score
below :data:`CUE_STRENGTH` on ``test``, or the world is redrawn from the next derived key (bounded; every draw is
recorded in the build report). The planted cue itself scores the cue strength by construction and is not judged
here; the shortcut report after the baselines still compares every shortcut with the teacher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aarlab.suites._build import SuiteBuildError
from aarlab.suites.tiny._datasets import build_dataset
from aarlab.suites.tiny._shortcuts import tiny_shortcut_accuracies
from aarlab.suites.tiny._world import CUE_STRENGTH, TASKS, World, build_world, world_key
from aarlab.w2s.data import Dataset

#: Derived keys tried after the first before the build gives up (each draw costs well under a second).
MAX_REDRAWS = 20


class WorldDrawError(SuiteBuildError):
    """No draw within the bound gave datasets free of label-free shortcuts."""


@dataclass
class WorldDraw:
    """The accepted world, its datasets and shortcut scores, and the record of every draw tried."""

    key: str
    world: World
    datasets: dict[str, Dataset]
    shortcuts: dict[str, dict[str, float]]
    draws: list[dict[str, Any]] = field(default_factory=list)


def dataset_shortcuts(dataset: Dataset) -> dict[str, float]:
    """Every shortcut computable from one task's datasets alone, scored on its test split (reads labels)."""
    from aarlab.w2s.shortcuts import shortcut_accuracies

    test, unlabel = dataset.split("test"), dataset.split("train_unlabel")
    scores = shortcut_accuracies(test, [*unlabel, *test])
    scores.update(tiny_shortcut_accuracies(test, unlabel))
    return {name: round(float(acc), 4) for name, acc in scores.items()}


def over_the_cue(shortcuts: dict[str, dict[str, float]]) -> list[str]:
    """``task: shortcut accuracy`` for every shortcut other than the planted cue at or above the cue's strength."""
    return [f"{task}: {name} {acc:.3f}" for task, scores in shortcuts.items() for name, acc in scores.items()
            if name != "planted-cue" and acc >= CUE_STRENGTH]


def draw_world(secret: str, world_seed: int | str, data_seed: int | str, max_redraws: int = MAX_REDRAWS) -> WorldDraw:
    """The first world (key from ``secret`` and ``world_seed``, then derived keys) with shortcuts below the cue."""
    draws: list[dict[str, Any]] = []
    for attempt in range(max_redraws + 1):
        key = world_key(secret, world_seed if attempt == 0 else f"{world_seed}/redraw-{attempt}")
        world = build_world(key)
        datasets = {task: build_dataset(world, task, data_seed) for task in TASKS}
        shortcuts = {task: dataset_shortcuts(data) for task, data in datasets.items()}
        problems = over_the_cue(shortcuts)
        draws.append({"attempt": attempt, "accepted": not problems, "over_the_cue": problems})
        if not problems:
            return WorldDraw(key, world, datasets, shortcuts, draws)
    raise WorldDrawError(f"no world among {max_redraws + 1} draws kept every label-free shortcut below the planted "
                         f"cue ({CUE_STRENGTH}); last draw: {'; '.join(draws[-1]['over_the_cue'])}")
