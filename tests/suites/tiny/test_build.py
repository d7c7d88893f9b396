from aarlab.suites.tiny._build import _strong_gate_failures, weak_known_items
from aarlab.suites.tiny._world import build_world


def _report(recall: float = 1.0, judging: float = 1.0, zero_shot: float = 0.5) -> dict:
    tasks = ("math", "code", "chat")
    return {"recall": dict.fromkeys(tasks, recall), "judging": dict.fromkeys(tasks, judging),
            "zero_shot": dict.fromkeys(tasks, zero_shot)}


def test_a_strong_model_with_full_latent_knowledge_passes_the_gate() -> None:
    assert _strong_gate_failures(_report()) == []


def test_the_gate_fails_on_missing_recall_or_judging() -> None:
    assert any("recall" in f for f in _strong_gate_failures(_report(recall=0.9)))
    assert any("judging" in f for f in _strong_gate_failures(_report(judging=0.8)))


def test_the_gate_fails_when_zero_shot_is_at_the_ceiling_or_inverted() -> None:
    assert any("not latent" in f for f in _strong_gate_failures(_report(zero_shot=0.95)))
    assert any("not latent" in f for f in _strong_gate_failures(_report(zero_shot=0.02)))


def test_the_weak_model_knows_a_fixed_partial_subset() -> None:
    world = build_world(0)
    known = weak_known_items(world)
    assert known == weak_known_items(world)
    assert {t: len(v) for t, v in known.items()} == {"math": 50, "code": 60, "chat": 72}
