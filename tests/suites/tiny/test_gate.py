"""The models' gates and the bounded pretraining schedule, with a fake trainer (no torch, milliseconds)."""

from collections.abc import Mapping
from typing import Any

from aarlab.suites.tiny._gate import (
    WEAK_MARGIN,
    latency_failures,
    learning_failures,
    planned_steps,
    pretrain_until_gated,
    strong_gate_failures,
    teacher_failures,
)

TASKS = ("math", "code", "chat")


def _report(judging: float = 1.0, zero_shot: float = 0.5, recall: float = 1.0) -> dict[str, Any]:
    return {"recall": dict.fromkeys(TASKS, recall), "judging": dict.fromkeys(TASKS, judging),
            "zero_shot": dict.fromkeys(TASKS, zero_shot)}


class FakeTrainer:
    """Returns scripted gate reports per (init seed, chunk) and records every call."""

    def __init__(self, script: dict[tuple[int, int], dict[str, Any]]) -> None:
        self.script, self.calls = script, []

    def __call__(self, seed: int, chunk: int, steps: int) -> Mapping[str, Any]:
        self.calls.append((seed, chunk, steps))
        return self.script[(seed, chunk)]


def _run(trainer: FakeTrainer, max_attempts: int = 2, max_extra_chunks: int = 2):
    return pretrain_until_gated(trainer, strong_gate_failures, init_seed=0, steps=100,
                                max_extra_chunks=max_extra_chunks, max_attempts=max_attempts)


def test_a_model_that_passes_at_once_trains_one_chunk() -> None:
    trainer = FakeTrainer({(0, 0): _report()})
    run = _run(trainer)
    assert run.passed and trainer.calls == [(0, 0, 100)]
    assert run.attempts_as_dicts() == [{"init_seed": 0, "steps": 100, "chunks": 1, "failures": []}]


def test_a_model_short_of_the_judging_jump_gets_a_shorter_extra_chunk() -> None:
    trainer = FakeTrainer({(0, 0): _report(judging=0.6), (0, 1): _report()})
    run = _run(trainer)
    assert run.passed and trainer.calls == [(0, 0, 100), (0, 1, 50)]
    assert run.attempts[-1].steps == 150 and run.attempts[-1].chunks == 2


def test_an_inverted_zero_shot_starts_a_fresh_model_from_the_next_seed_without_extra_chunks() -> None:
    trainer = FakeTrainer({(0, 0): _report(zero_shot=0.021), (1, 0): _report(zero_shot=0.4)})
    run = _run(trainer)
    assert run.passed and trainer.calls == [(0, 0, 100), (1, 0, 100)]
    assert [a.init_seed for a in run.attempts] == [0, 1]
    assert "chat: zero-shot 0.021" in " ".join(run.attempts[0].failures)
    assert run.report["zero_shot"]["chat"] == 0.4 and run.total_steps == 200


def test_a_model_that_never_passes_stops_at_the_bound_and_keeps_every_failure() -> None:
    trainer = FakeTrainer({(s, c): _report(judging=0.5) for s in range(2) for c in range(3)})
    run = _run(trainer)
    assert not run.passed
    assert len(trainer.calls) == 6 and run.total_steps == planned_steps(100, 2, 2) == 400
    assert all(any("judging" in f for f in a.failures) for a in run.attempts)


def test_one_attempt_means_no_retry() -> None:
    trainer = FakeTrainer({(0, 0): _report(zero_shot=0.95)})
    run = _run(trainer, max_attempts=1)
    assert not run.passed and trainer.calls == [(0, 0, 100)]


def test_an_ungated_model_trains_one_chunk_even_when_it_misses_judging() -> None:
    trainer = FakeTrainer({(0, 0): _report(judging=0.5)})
    run = pretrain_until_gated(trainer, lambda _r: [], init_seed=0, steps=100, max_extra_chunks=2, max_attempts=1)
    assert run.passed and trainer.calls == [(0, 0, 100)]


def _weak(math: float, code: float, chat: float) -> dict[str, Any]:
    return {**_report(), "teacher": {"math": math, "code": code, "chat": chat}}


FLOORS = {"math": 0.6 + WEAK_MARGIN, "code": 0.6 + WEAK_MARGIN, "chat": 0.5926 + WEAK_MARGIN}


def test_a_weak_teacher_must_beat_each_datasets_best_shortcut_by_the_margin() -> None:
    assert teacher_failures(_weak(0.7, 0.66, 0.62), FLOORS) == []
    failures = teacher_failures(_weak(0.556, 0.62, 0.537), FLOORS)
    assert [f.split(":")[0] for f in failures] == ["math", "chat"]
    assert "weak teacher 0.556 < 0.620 (best label-free shortcut 0.600 + 0.02)" in failures[0]


def test_a_weak_model_under_the_cue_is_replaced_by_a_fresh_one_until_one_passes() -> None:
    trainer = FakeTrainer({(0, 0): _weak(0.556, 0.583, 0.537), (1, 0): _weak(0.7, 0.6, 0.65),
                           (2, 0): _weak(0.72, 0.68, 0.66)})
    run = pretrain_until_gated(trainer, lambda r: teacher_failures(r, FLOORS), init_seed=0, steps=100,
                               max_extra_chunks=0, max_attempts=4)
    assert run.passed and trainer.calls == [(0, 0, 100), (1, 0, 100), (2, 0, 100)]  # no extra chunks: fresh inits
    assert [len(a.failures) for a in run.attempts] == [3, 1, 0]
    assert run.report["teacher"]["code"] == 0.68


def test_a_weak_model_that_never_passes_stops_at_the_bound() -> None:
    trainer = FakeTrainer({(s, 0): _weak(0.5, 0.5, 0.5) for s in range(4)})
    run = pretrain_until_gated(trainer, lambda r: teacher_failures(r, FLOORS), init_seed=0, steps=100,
                               max_extra_chunks=0, max_attempts=4)
    assert not run.passed and len(trainer.calls) == 4 and run.total_steps == planned_steps(100, 0, 4) == 400


def test_failures_split_into_not_learned_and_not_latent() -> None:
    report = _report(judging=0.9, zero_shot=0.9)
    assert all("judging" in f for f in learning_failures(report)) and len(learning_failures(report)) == 3
    assert all("not latent" in f for f in latency_failures(report)) and len(latency_failures(report)) == 3
    assert strong_gate_failures(_report(zero_shot=0.15)) == strong_gate_failures(_report(zero_shot=0.85)) == []
