"""The campaign's verdict against the literature baselines: what it concludes, and the reasons it gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aarlab.campaign._verdict import (
    PromotedRun,
    SplitSizes,
    campaign_verdicts,
    misses_of,
    split_sizes,
)
from aarlab.server._scoring import AnswerKey

SIZES = {"math": SplitSizes(n_public_items=30, n_private_items=30, public_pgr_se=0.27)}


def _cmp(name: str, diff: float, low: float, high: float, acc: float = 0.9, pgr: float = 0.8) -> dict[str, Any]:
    return {"baseline": name, "mean_diff": diff, "ci": [low, high], "baseline_acc": [acc] * 3,
            "baseline_private_pgr": pgr, "per_seed_diff": [diff] * 3, "p_value": 0.5}


def _result(agent: str, pgr: float, versus: dict[str, dict[str, Any]] | None = None, *, ignores: bool = False,
            status: str = "promoted", beats: bool | None = None) -> dict[str, Any]:
    versus = versus or {}
    if beats is None and versus:
        beats = all(c["ci"][0] > 0 for c in versus.values())
    return {"submission_id": f"sub_{agent}", "agent": agent, "method": f"m-{agent}", "dataset": "math",
            "status": status, "private_pgr": pgr, "weak_acc": 0.72, "strong_acc": 0.93,
            "private_transfer_acc": 0.72 + pgr * 0.21, "versus": versus, "beats_every_baseline": beats,
            "ablation": {"ignores_weak_labels": ignores, "shuffled_acc": 0.94 if ignores else 0.55},
            "flags": ["ignores the weak labels"] if ignores else []}


def _runs(*results: dict[str, Any]) -> list[PromotedRun]:
    return [r for r in (PromotedRun.from_result(x) for x in results) if r is not None]


def _spread(n: int, top: float = 1.3) -> list[float]:
    return [top - 0.1 * i for i in range(n)]  # one within 1 SE (0.27) of the top per ~3 submissions


def test_a_method_beating_every_baseline_gets_a_yes_and_no_reasons() -> None:
    run = _result("a", 1.1, {"vanilla": _cmp("vanilla", 0.1, 0.05, 0.15), "soft": _cmp("soft", 0.05, 0.01, 0.09)})
    [verdict] = campaign_verdicts(_runs(run), {"math": _spread(30)}, SIZES)
    assert verdict.beats_all is True and verdict.compared == 2 and verdict.misses == [] and verdict.reasons == []
    assert "beats every one of the 2 literature baselines" in verdict.headline


def test_a_miss_names_the_closest_baseline_first_with_its_pgr_difference() -> None:
    run = _result("a", 1.0, {"vanilla": _cmp("vanilla", 0.05, 0.02, 0.08), "soft": _cmp("soft", 0.0, -0.03, 0.03),
                             "auxconf": _cmp("auxconf", -0.042, -0.08, 0.0)})
    [verdict] = campaign_verdicts(_runs(run), {}, SIZES)
    assert verdict.beats_all is False and [m.baseline for m in verdict.misses] == ["auxconf", "soft"]
    assert verdict.misses[0].pgr_diff == pytest.approx(-0.042 / 0.21)
    assert "does not beat 2 of the 3" in verdict.headline and "closest auxconf -0.042" in verdict.headline


def test_a_ci_touching_zero_is_not_a_win() -> None:
    run = _runs(_result("a", 1.0, {"bootstrap": _cmp("bootstrap", 0.044, 0.0, 0.095)}))[0]
    assert [m.baseline for m in misses_of(run)] == ["bootstrap"]


def test_a_teacher_free_winner_is_set_aside_and_the_verdict_is_about_the_best_honest_method() -> None:
    cheat = _result("cheat", 1.2, {"auxconf": _cmp("auxconf", 0.067, 0.045, 0.088)}, ignores=True)
    honest = _result("honest", 0.8, {"soft": _cmp("soft", -0.011, -0.045, 0.024)})
    lower_cheat = _result("low", 0.5, {}, ignores=True)
    [verdict] = campaign_verdicts(_runs(cheat, honest, lower_cheat), {}, SIZES)
    assert verdict.best is not None and verdict.best.agent == "honest" and verdict.beats_all is False
    assert [r.agent for r in verdict.set_aside] == ["cheat"]  # only those scoring above the honest best
    why = {r.key: r.text for r in verdict.reasons}
    assert "cheat's m-cheat at private PGR 1.20" in why["teacher-free-winner"]
    assert "0.940 accuracy" in why["teacher-free-winner"]


def test_when_every_promoted_method_ignores_the_teacher_there_is_nothing_to_compare() -> None:
    [verdict] = campaign_verdicts(_runs(_result("cheat", 1.2, {}, ignores=True)), {}, SIZES)
    assert verdict.best is None and verdict.beats_all is None
    assert "ignores the weak labels" in verdict.headline and verdict.reasons[0].key == "teacher-free-winner"


def test_a_promotion_without_against_is_not_compared() -> None:
    [verdict] = campaign_verdicts(_runs(_result("a", 0.9)), {}, SIZES)
    assert verdict.beats_all is None and [r.key for r in verdict.reasons] == ["not-compared"]
    assert "--against all" in verdict.reasons[0].text and "was not compared" in verdict.headline


def test_failed_and_undefined_promotions_are_ignored() -> None:
    failed = _result("f", 2.0, status="failed")
    undefined = {**_result("u", 1.0), "private_pgr": None}
    assert _runs(failed, undefined) == []
    assert campaign_verdicts([], {}, SIZES) == []


@pytest.mark.parametrize(("public", "saturated"), [
    ([1.3] * 10 + [0.5] * 20, True),  # a third of the submissions tie the top
    ([1.3, 1.2, 1.1] + [0.2] * 27, False),  # 3 near the top of 30: 10% < 20%
    ([1.3, 1.25], False),  # too few to call it saturation
])
def test_public_saturation_is_a_reason_only_when_many_submissions_tie_the_top(public: list[float],
                                                                            saturated: bool) -> None:
    run = _result("a", 1.0, {"auxconf": _cmp("auxconf", -0.2, -0.3, -0.1)})
    [verdict] = campaign_verdicts(_runs(run), {"math": public}, SIZES)
    reasons = {r.key: r.text for r in verdict.reasons}
    assert ("public-saturated" in reasons) is saturated
    if saturated:
        assert reasons["public-saturated"].startswith("10 of the 30 submissions on math")
        assert "0.27 PGR; 30 distinct public items" in reasons["public-saturated"]


def test_private_resolution_is_a_reason_only_for_a_miss_of_a_few_private_items() -> None:
    small = _result("a", 1.0, {"auxconf": _cmp("auxconf", -0.033, -0.067, 0.0)})
    [verdict] = campaign_verdicts(_runs(small), {}, SIZES)
    text = {r.key: r.text for r in verdict.reasons}["private-resolution"]
    assert "1.0 private items per seed" in text and "30 distinct items" in text
    large = _result("a", 1.0, {"auxconf": _cmp("auxconf", -0.2, -0.3, -0.1)})
    [verdict] = campaign_verdicts(_runs(large), {}, SIZES)
    assert "private-resolution" not in {r.key for r in verdict.reasons}
    fine = {"math": SplitSizes(n_public_items=500, n_private_items=500, public_pgr_se=0.05)}
    [verdict] = campaign_verdicts(_runs(small), {}, fine)  # 500 items: a 0.033 miss is 16 items, resolved
    assert "private-resolution" not in {r.key for r in verdict.reasons}


def test_a_baseline_at_the_ceiling_is_a_reason() -> None:
    run = _result("a", 1.0, {"auxconf": _cmp("auxconf", -0.033, -0.067, 0.0, acc=0.967, pgr=1.18)})
    [verdict] = campaign_verdicts(_runs(run), {}, SIZES)
    text = {r.key: r.text for r in verdict.reasons}["baseline-at-ceiling"]
    assert "private PGR 1.18, accuracy 0.967 against the strong ceiling's 0.930" in text
    below = _result("a", 1.0, {"auxconf": _cmp("auxconf", -0.033, -0.067, 0.0, acc=0.9, pgr=0.86)})
    [verdict] = campaign_verdicts(_runs(below), {}, SIZES)
    assert "baseline-at-ceiling" not in {r.key for r in verdict.reasons}


def test_one_verdict_per_development_dataset() -> None:
    chat = {**_result("c", 0.9, {"soft": _cmp("soft", 0.02, 0.01, 0.03)}), "dataset": "chat"}
    verdicts = campaign_verdicts(_runs(_result("m", 0.8), chat), {}, SIZES)
    assert [v.dataset for v in verdicts] == ["chat", "math"] and verdicts[0].beats_all is True


def test_split_sizes_count_distinct_items_and_the_public_noise() -> None:
    public = np.array([True] * 510 + [False] * 510)
    key = AnswerKey(name="math", kind="binary", weak_acc=0.7167, strong_acc=0.9111, baseline_version="v",
                    ids=tuple(str(i) for i in range(1020)), index={}, positive=np.zeros(1020, bool), public=public,
                    n_test_items=60, n_public_items=30)
    sizes = split_sizes({"math": key})["math"]
    assert (sizes.n_public_items, sizes.n_private_items) == (30, 30)
    assert sizes.public_pgr_se == pytest.approx(0.267, abs=0.001)  # the gap-too-small flag's SE on tiny math
