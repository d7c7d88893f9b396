import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from aarlab.suites._build import pgr_bar_problems
from aarlab.suites.tiny._build import BuildPlan
from aarlab.suites.tiny._consolidate import (
    MAX_CONSOLIDATIONS,
    ceiling_problems,
    consolidate_strong,
    consolidate_until_ceiling,
)
from tests.suites.tiny.test_build import _prepared_suite


def _result(weak: float, strong: float, transfer: float) -> dict[str, Any]:
    return {"weak_acc": weak, "strong_acc": strong, "transfer_acc": transfer,
            "pgr": (transfer - weak) / (strong - weak)}


AT_CEILING = {"math": _result(0.77, 0.933, 0.939), "code": _result(0.73, 0.97, 0.90),
              "chat": _result(0.67, 0.95, 0.89)}
INSIDE = {"math": _result(0.77, 0.97, 0.93), "code": _result(0.73, 0.98, 0.96), "chat": _result(0.67, 1.0, 0.96)}


def test_ceiling_problems_name_datasets_whose_student_reaches_the_ceiling_unless_experimental() -> None:
    assert [p.split(":")[0] for p in ceiling_problems(AT_CEILING, [])] == ["math"]
    assert "vanilla PGR 1.04 >= 1" in ceiling_problems(AT_CEILING, [])[0]
    assert ceiling_problems(AT_CEILING, ["math"]) == [] and ceiling_problems(INSIDE, []) == []
    below = {**INSIDE, "code": _result(0.73, 0.98, 0.70)}
    assert ceiling_problems(below, []) == []  # PGR <= 0 is a bar problem, but more pretraining is no fix for it
    assert [p.split(":")[0] for p in pgr_bar_problems(below, [])] == ["code"]
    assert [p.split(":")[0] for p in pgr_bar_problems(AT_CEILING, ["code"])] == ["math"]
    assert pgr_bar_problems({"math": {**AT_CEILING["math"], "pgr": None}}, []) == []  # no gap: the build refuses
    seeds = [{"seed": 0, "pgr": 0.5}, {"seed": 1, "pgr": 0.0}, {"seed": 2, "pgr": None}]
    one_seed_out = {**INSIDE, "chat": {**INSIDE["chat"], "seeds": seeds}}  # the means are inside, two seeds are not
    assert [p.split(":")[0] for p in pgr_bar_problems(one_seed_out, [])] == ["chat"]
    assert pgr_bar_problems(one_seed_out, [])[0].endswith("; outside on seed 1 0.00, seed 2 n/a")
    assert pgr_bar_problems({"chat": {**INSIDE["chat"], "seeds": seeds[:1]}}, []) == []


class _Consolidator:
    def __init__(self, kept: bool = True) -> None:
        self.kept, self.calls = kept, 0

    def __call__(self, suite: Any, plan: Any, builder: dict, progress: Any) -> dict[str, Any]:
        self.calls += 1
        return {"steps": 3000, "kept": self.kept, "failures": [] if self.kept else ["math: recall 0.9 < 0.98"]}


class _Suite:
    class spec:  # noqa: N801 -- the attribute the gate reads
        experimental: list[str] = []

    def __init__(self, root: Path) -> None:
        self.root = root


def test_the_gate_consolidates_and_recomputes_the_baselines_when_a_student_reaches_its_ceiling(
        tmp_path: Path) -> None:
    report: dict[str, Any] = {"vanilla": dict(AT_CEILING), "builder": {}}
    consolidate, recomputed = _Consolidator(), []

    def baselines() -> dict[str, Any]:
        recomputed.append(1)
        return dict(INSIDE)

    consolidate_until_ceiling(_Suite(tmp_path), report, lambda *_: None, baselines, plan=object(),
                              consolidate=consolidate)
    [record] = report["builder"]["consolidation"]
    assert consolidate.calls == 1 and recomputed == [1] and report["vanilla"] == INSIDE
    assert record["because"][0].startswith("math: vanilla PGR 1.04")
    assert record["vanilla_pgr_after"] == {d: r["pgr"] for d, r in INSIDE.items()}


def test_the_gate_does_nothing_inside_the_bar_and_stops_at_its_bound_or_a_rejected_model(tmp_path: Path) -> None:
    report: dict[str, Any] = {"vanilla": dict(INSIDE), "builder": {}}
    consolidate = _Consolidator()
    consolidate_until_ceiling(_Suite(tmp_path), report, lambda *_: None, pytest.fail, plan=object(),
                              consolidate=consolidate)
    assert consolidate.calls == 0 and report["builder"]["consolidation"] == []

    report = {"vanilla": dict(AT_CEILING), "builder": {}}
    consolidate_until_ceiling(_Suite(tmp_path), report, lambda *_: None, lambda: dict(AT_CEILING), plan=object(),
                              consolidate=consolidate)
    assert consolidate.calls == MAX_CONSOLIDATIONS  # still at the ceiling: bounded, and the report says so
    assert len(report["builder"]["consolidation"]) == MAX_CONSOLIDATIONS

    rejected = _Consolidator(kept=False)
    report = {"vanilla": dict(AT_CEILING), "builder": {}}
    consolidate_until_ceiling(_Suite(tmp_path), report, lambda *_: None, pytest.fail, plan=object(),
                              consolidate=rejected)
    assert rejected.calls == 1 and report["vanilla"] == AT_CEILING  # the old model stays, so do its baselines
    assert report["builder"]["consolidation"][0]["failures"] == ["math: recall 0.9 < 0.98"]


def _digest(path: Path) -> str:
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


def test_a_real_consolidation_keeps_a_model_only_when_it_passes_the_knowledge_gate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real step on a 20-step strong model: the gate fails (it knows nothing yet), so the saved model stays;
    with the gate passing, the continued model replaces it and the build report's strong gate records the steps."""
    import torch

    from aarlab.suites.tiny import _gate
    from aarlab.suites.tiny._build import _pretrain_worker

    suite, drawn, threads = _prepared_suite(tmp_path)
    plan = BuildPlan(world_seed=0, data_seed=0, strong_steps=20, weak_steps=20, max_extra_chunks=0, init_seed=0,
                     max_attempts=1)
    try:
        monkeypatch.setattr("aarlab.suites._secret.load_or_create_build_secret", lambda _root: "ab" * 16)
        strong = _pretrain_worker("strong", suite, plan, drawn.key, {}, {})
        builder: dict[str, Any] = {"gates": {"strong": strong}, "thread_budget": 1}
        model_dir = suite.root / "models" / "strong"
        before, seen = _digest(model_dir), []
        torch.set_num_threads(2)
        monkeypatch.delenv("AARLAB_THREADS", raising=False)
        record = consolidate_strong(suite, plan, builder, lambda *a: seen.append(a))
        assert record["steps"] == 10 and not record["kept"] and record["failures"]
        # it trained on the build's budget and gave the process its own settings back
        assert record["threads"] == 1 and torch.get_num_threads() == 2 and "AARLAB_THREADS" not in os.environ
        assert _digest(model_dir) == before and strong["total_steps"] == 20 and "strong_readouts" not in builder
        assert seen[-1] == ("consolidate strong", 10, 10)

        monkeypatch.setattr(_gate, "strong_gate_failures", lambda _report: [])
        record = consolidate_strong(suite, plan, builder, lambda *_: None)
        assert record["kept"] and _digest(model_dir) != before
        assert strong["total_steps"] == strong["steps"] == 30 and strong["attempts"][-1]["chunks"] == 2
        assert strong["recall"] == record["gate"]["recall"]
        assert set(builder["strong_readouts"]) == {"math", "code", "chat"}
    finally:
        torch.set_num_threads(threads)


def test_a_tiny_build_runs_the_ceiling_gate_and_warns_of_seeds_outside_the_bar(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build's wiring: baselines, the gate's round, the baselines again, bar problems warned and recorded
    (a seed outside with the means inside; means outside refuse the world: tests/suites/test_build_redraw.py)."""
    import json

    from aarlab.suites import _build, load_suite, tiny
    from aarlab.suites.tiny import _consolidate

    suite = load_suite("tiny", tmp_path)
    suite.root.mkdir(parents=True)  # what the build lock does before _build
    seeds = [{"seed": 0, "pgr": 0.9}, {"seed": 1, "pgr": -0.1}, {"seed": 2, "pgr": 0.8}]
    after = {**INSIDE, "code": {**INSIDE["code"], "seeds": seeds}}  # the round fixes math; a code seed falls under
    runs = iter([dict(AT_CEILING), after])
    calls: list[str] = []
    monkeypatch.setattr(tiny, "build_tiny", lambda *_a, **_k: {"gates": {}})
    monkeypatch.setattr(_build, "compute_baselines", lambda *_a, **_k: (calls.append("baselines"), next(runs))[1])
    monkeypatch.setattr(_build, "refuse_shortcuts", lambda *_a: calls.append("shortcuts"))
    monkeypatch.setattr("aarlab.suites._scorable.unscorable", lambda *_a: [])  # no datasets written here
    monkeypatch.setattr(_consolidate, "consolidate_strong",
                        lambda *_a: (calls.append("consolidate"), {"steps": 3000, "kept": True})[1])
    logged: list[str] = []
    report = _build._build(suite, lambda *_: None, workers=1, log=logged.append)
    assert calls == ["baselines", "consolidate", "baselines", "shortcuts"]
    assert report["vanilla"] == after and report["builder"]["consolidation"][0]["because"][0].startswith("math")
    assert [p.split(":")[0] for p in report["bar_problems"]] == ["code"]
    assert logged == ["warning: outside the acceptance bar (0 < vanilla PGR < 1, means and every seed): "
                      f"{report['bar_problems'][0]}"]
    assert json.loads((suite.root / "build_report.json").read_text())["bar_problems"] == report["bar_problems"]
    assert "after_baselines" in report["timings_s"]
