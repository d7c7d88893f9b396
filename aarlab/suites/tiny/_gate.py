"""The models' gates, and the bounded schedule that pretrains until a model passes its gate.

The strong model's knowledge gate: it must know the world and keep that knowledge latent. The weak model's teacher
gate: fine-tuned as the weak teacher on each dataset (the baselines' seeds), it must beat the best label-free
shortcut of that dataset by :data:`WEAK_MARGIN` -- otherwise the build's shortcut gate refuses the suite minutes
later (a teacher under the planted cue was measured on 1 fresh secret in 5, and PGR over such a teacher rewards
ignoring it). The remedy tried is a fresh weak model from the next init seed (the same weak model fine-tuned
again gives the same teacher: the runs are seeded and cached).

Two kinds of failure call for two remedies:

* *not learned yet* (recall or judging below threshold): the model has not made the late jump to judging; another,
  shorter cosine cycle on the same model usually gets there (an extra chunk).
* *not latent* (zero-shot in the task format outside [MIN_ZERO_SHOT, MAX_ZERO_SHOT]): more steps do not move it
  reliably; a fresh model from another init seed does (another attempt).

Both are bounded: at most ``max_extra_chunks`` chunks per attempt and ``max_attempts`` attempts, so a build that
cannot pass fails loudly in at most ``max_attempts * (steps + max_extra_chunks * steps // 2)`` steps. Every attempt
is recorded (seed, steps, failures) for the build report. No torch here: the training step is a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aarlab.suites.tiny._world import TASKS

#: Knowledge gate thresholds for the strong model.
#: Zero-shot in the task format must stay inside [MIN_ZERO_SHOT, MAX_ZERO_SHOT]: near the ceiling, or inverted
#: near 0, would let a method that ignores the teacher win (flip the labels and read them off).
MIN_RECALL, MIN_JUDGING, MIN_ZERO_SHOT, MAX_ZERO_SHOT = 0.98, 0.95, 0.15, 0.85

#: ``train(init_seed, chunk, steps)``: chunk 0 starts a fresh model from ``init_seed``, later chunks continue it;
#: returns the gate report (``recall``/``judging``/``zero_shot`` per task) measured after the chunk.
TrainChunk = Callable[[int, int, int], Mapping[str, Any]]
#: ``failures(report)``: one line per gate failure, empty when the model passes.
GateCheck = Callable[[Mapping[str, Any]], list[str]]


def learning_failures(report: Mapping[str, Any]) -> list[str]:
    """Recall or judging below threshold: knowledge the model has not (yet) acquired."""
    failures = []
    for task in TASKS:
        if report["recall"][task] < MIN_RECALL:
            failures.append(f"{task}: recall {report['recall'][task]:.3f} < {MIN_RECALL}")
        if report["judging"][task] < MIN_JUDGING:
            failures.append(f"{task}: judging {report['judging'][task]:.3f} < {MIN_JUDGING}")
    return failures


def latency_failures(report: Mapping[str, Any]) -> list[str]:
    """Zero-shot in the task format outside the latent band: readable (or inversely readable) without a teacher."""
    return [f"{task}: zero-shot {report['zero_shot'][task]:.3f} outside [{MIN_ZERO_SHOT}, {MAX_ZERO_SHOT}] "
            "(knowledge not latent)"
            for task in TASKS if not MIN_ZERO_SHOT <= report["zero_shot"][task] <= MAX_ZERO_SHOT]


#: How far the weak teacher's test accuracy (mean over the baseline seeds) must stay above the best label-free
#: shortcut of its dataset (the planted cue, 0.60, on every draw :mod:`._draw` accepts).
WEAK_MARGIN = 0.02


def teacher_failures(report: Mapping[str, Any], floors: Mapping[str, float]) -> list[str]:
    """One line per dataset whose weak teacher (``report["teacher"]``, accuracy by dataset) misses its floor."""
    return [f"{task}: weak teacher {report['teacher'][task]:.3f} < {floor:.3f} (best label-free shortcut "
            f"{floor - WEAK_MARGIN:.3f} + {WEAK_MARGIN})"
            for task, floor in floors.items() if report["teacher"][task] < floor - 1e-9]


def strong_gate_failures(report: Mapping[str, Any]) -> list[str]:
    """Every gate failure of the strong model's report; empty when it passes."""
    return learning_failures(report) + latency_failures(report)


@dataclass(frozen=True)
class Attempt:
    """One pretraining attempt: a fresh model from ``init_seed`` trained ``steps`` steps in ``chunks`` chunks."""

    init_seed: int
    steps: int
    chunks: int
    failures: list[str]


@dataclass
class GatedRun:
    """The outcome of :func:`pretrain_until_gated`: the last gate report and every attempt, the last one kept."""

    report: Mapping[str, Any]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the kept (last) attempt passed the gate."""
        return bool(self.attempts) and not self.attempts[-1].failures

    @property
    def total_steps(self) -> int:
        """Steps over all attempts (the cost of the run)."""
        return sum(a.steps for a in self.attempts)

    def attempts_as_dicts(self) -> list[dict[str, Any]]:
        """JSON-ready attempts for the build report."""
        return [asdict(a) for a in self.attempts]


def chunk_steps(steps: int, chunk: int) -> int:
    """Steps of chunk ``chunk``: the full budget first, then half-budget cycles."""
    return steps if chunk == 0 else max(1, steps // 2)


def planned_steps(steps: int, max_extra_chunks: int, max_attempts: int) -> int:
    """The most steps :func:`pretrain_until_gated` can take (the bound the build promises)."""
    return max_attempts * sum(chunk_steps(steps, c) for c in range(1 + max_extra_chunks))


def pretrain_until_gated(train: TrainChunk, failures: GateCheck, *, init_seed: int, steps: int,
                         max_extra_chunks: int, max_attempts: int) -> GatedRun:
    """Pretrain chunk by chunk and attempt by attempt until ``failures`` is empty or the bounds are spent.

    Within an attempt, extra chunks run only while the gate fails and :func:`learning_failures` finds something
    (the late jump has not happened); a model that learned everything but fails another check (zero-shot) goes
    straight to the next attempt, with init seed ``init_seed + attempt``.
    The caller keeps the model of the last attempt.
    """
    run = GatedRun(report={})
    for attempt in range(max(1, max_attempts)):
        seed, done = init_seed + attempt, 0
        for chunk in range(1 + max_extra_chunks):
            n = chunk_steps(steps, chunk)
            run.report = train(seed, chunk, n)
            done += n
            found = failures(run.report)
            if not found or not learning_failures(run.report):
                break
        run.attempts.append(Attempt(init_seed=seed, steps=done, chunks=chunk + 1, failures=found))
        if not found:
            break
    return run
