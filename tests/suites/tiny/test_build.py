from pathlib import Path
from typing import Any

from aarlab.suites.tiny._build import BuildPlan, weak_known_items
from aarlab.suites.tiny._gate import strong_gate_failures
from aarlab.suites.tiny._world import build_world


def _report(recall: float = 1.0, judging: float = 1.0, zero_shot: float = 0.5) -> dict:
    tasks = ("math", "code", "chat")
    return {"recall": dict.fromkeys(tasks, recall), "judging": dict.fromkeys(tasks, judging),
            "zero_shot": dict.fromkeys(tasks, zero_shot)}


def test_a_strong_model_with_full_latent_knowledge_passes_the_gate() -> None:
    assert strong_gate_failures(_report()) == []


def test_the_gate_fails_on_missing_recall_or_judging() -> None:
    assert any("recall" in f for f in strong_gate_failures(_report(recall=0.9)))
    assert any("judging" in f for f in strong_gate_failures(_report(judging=0.8)))


def test_the_gate_fails_when_zero_shot_is_at_the_ceiling_or_inverted() -> None:
    assert any("not latent" in f for f in strong_gate_failures(_report(zero_shot=0.95)))
    assert any("not latent" in f for f in strong_gate_failures(_report(zero_shot=0.02)))


def test_the_weak_model_knows_a_fixed_partial_subset() -> None:
    world = build_world("k0")
    known = weak_known_items(world)
    assert known == weak_known_items(world)
    assert {t: len(v) for t, v in known.items()} == {"math": 40, "code": 80, "chat": 72}
    half = weak_known_items(world, {"math": 0.5, "code": 0.4, "chat": 0.4})
    assert len(half["math"]) == 50 and set(known["math"]) != set(half["math"])


def test_the_weak_models_knowledge_comes_from_the_suite_file(tmp_path: Path) -> None:
    from aarlab.suites import Suite, load_suite

    suite = load_suite("tiny", tmp_path)
    assert dict(BuildPlan.from_suite(suite).weak_knowledge) == {"math": 0.4, "code": 0.4, "chat": 0.4}
    changed = Suite(suite.spec.model_copy(update={"build": {**suite.spec.build, "weak_knowledge_math": 0.5}}),
                    tmp_path)
    assert dict(BuildPlan.from_suite(changed).weak_knowledge)["math"] == 0.5


def test_the_build_plan_allows_more_attempts_without_a_suite_file_key() -> None:
    from aarlab.suites import load_suite

    plan = BuildPlan.from_suite(load_suite("tiny", Path("/nonexistent-home")))
    assert plan.max_attempts == 2 and plan.max_weak_attempts == 4 and plan.init_seed == 0


def _prepared_suite(home: Path) -> tuple[Any, Any, int]:
    """A tiny suite under ``home`` with datasets and tokenizer written (what build_tiny does before pretraining)."""
    import torch

    from aarlab.suites import load_suite
    from aarlab.suites._spec import Suite
    from aarlab.suites.tiny._draw import draw_world
    from aarlab.suites.tiny._pretrain import corpus_texts
    from aarlab.suites.tiny._tokenizer import train_tokenizer
    from aarlab.w2s.data import write_dataset

    base = load_suite("tiny", home)
    suite = Suite(base.spec.model_copy(update={"baseline_seeds": [0]}), home)
    drawn = draw_world("ab" * 16, 0, 0)
    for task, data in drawn.datasets.items():
        write_dataset(suite.data_path(task), data)
    train_tokenizer(corpus_texts(drawn.world)).save_pretrained(suite.root / "models" / "tokenizer")
    return suite, drawn, torch.get_num_threads()


class _HandedOver(dict):
    """A worker's thread counts whose later reads (``get``, as the worker polls) say one more than the first."""

    started_with: int | None = None

    def __getitem__(self, key: str) -> int:
        self.started_with = super().__getitem__(key)
        return self.started_with

    def get(self, key: str, default: object = None) -> object:
        return super().get(key, 0) + 1


def test_the_weak_teacher_gate_replaces_a_failing_weak_model_and_records_every_attempt(tmp_path: Path) -> None:
    """The real worker: a tiny weak pretraining, fine-tuned as the teacher on all three datasets per attempt."""
    import torch

    from aarlab.suites.tiny._build import _pretrain_worker

    suite, drawn, threads = _prepared_suite(tmp_path)
    plan = BuildPlan(world_seed=0, data_seed=0, strong_steps=20, weak_steps=20, max_extra_chunks=0, init_seed=0,
                     max_weak_attempts=2)
    progress: dict = {}
    try:
        unreachable = dict.fromkeys(drawn.datasets, 1.01)  # no teacher reaches this: both attempts fail
        result = _pretrain_worker("weak", suite, plan, drawn.key, unreachable, progress)
        assert [a["init_seed"] for a in result["attempts"]] == [0, 1]
        assert all(len(a["failures"]) == 3 for a in result["attempts"])
        assert result["floors"] == unreachable and result["total_steps"] == 40
        assert set(result["teacher"]) == set(drawn.datasets) and all(0 < a < 1 for a in result["teacher"].values())
        assert (suite.root / "models" / "weak" / "config.json").is_file()
        assert progress["pretrain weak"] == (40, 40) and progress["weak teacher gate"] == (3, 3)
        # The worker starts with the share it is given and takes the parent's later change while it trains (the
        # parent hands it the other worker's share once that one is done): here the change is there from step 0.
        handed = _HandedOver(weak=1)
        first = _pretrain_worker("weak", suite, plan, drawn.key, dict.fromkeys(drawn.datasets, 0.0), {}, handed)
        assert [a["failures"] for a in first["attempts"]] == [[]]  # a passing teacher: one attempt
        assert handed.started_with == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
