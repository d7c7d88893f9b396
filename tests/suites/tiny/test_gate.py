"""The strong model's gate and the bounded pretraining schedule, with a fake trainer (no torch, milliseconds)."""

from collections.abc import Mapping
from typing import Any

from aarlab.suites.tiny._gate import (
    latency_failures,
    learning_failures,
    planned_steps,
    pretrain_until_gated,
    strong_gate_failures,
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


def test_an_ungated_model_weak_trains_one_chunk_even_when_it_misses_judging() -> None:
    trainer = FakeTrainer({(0, 0): _report(judging=0.5)})
    run = pretrain_until_gated(trainer, lambda _r: [], init_seed=0, steps=100, max_extra_chunks=2, max_attempts=1)
    assert run.passed and trainer.calls == [(0, 0, 100)]


def test_failures_split_into_not_learned_and_not_latent() -> None:
    report = _report(judging=0.9, zero_shot=0.9)
    assert all("judging" in f for f in learning_failures(report)) and len(learning_failures(report)) == 3
    assert all("not latent" in f for f in latency_failures(report)) and len(latency_failures(report)) == 3
    assert strong_gate_failures(_report(zero_shot=0.15)) == strong_gate_failures(_report(zero_shot=0.85)) == []
