"""What ``campaign run --promote-best`` prints about the promoted method (the end-to-end run is in test_promote)."""

from __future__ import annotations

import numpy as np
import pytest

from aarlab.campaign._promote import HeldOutScore, PromotionResult
from aarlab.campaign._promote_best import promotion_lines
from aarlab.campaign._promote_stats import label_ablation, paired_comparison


def _result(method: np.ndarray, vanilla: np.ndarray, shuffled_acc: float, **held_out: HeldOutScore,
            ) -> PromotionResult:
    return PromotionResult(id="prm_x", submission_id="sub_x", agent="evolve-1", dataset="chat", method="evolved-p1",
                           snapshot_id="0" * 64, method_in_snapshot="methods/evolved-p1.py", status="promoted",
                           lane="finetune", seeds=[1, 2, 3], private_pgr=0.92, vanilla_private_pgr=0.70,
                           private_transfer_acc=float(method.mean()), paired=paired_comparison(method, vanilla),
                           ablation=label_ablation(0.5, float(method.mean()), shuffled_acc), held_out=held_out,
                           held_out_ratio=0.95)


def test_a_method_better_than_vanilla_that_learns_from_the_teacher_and_generalises() -> None:
    better, vanilla = np.ones((3, 20)), np.tile([1.0, 0.0], (3, 10))
    lines = promotion_lines(_result(better, vanilla, 0.55, math=HeldOutScore(pgr=0.83), code=HeldOutScore(pgr=0.91)),
                            ["chat"])
    assert lines[0].startswith("promoted evolve-1's evolved-p1 on chat (clean re-run, fresh seeds 1, 2, 3): "
                               "private PGR 0.92 against vanilla's 0.70 on the same seeds -- better than vanilla")
    assert lines[1] == ("on shuffled weak labels it scores 0.550 against 1.000 (10% of its gain over zero-shot "
                        "kept): it learns from the teacher")
    below = promotion_lines(_result(better, vanilla, 0.4))[1]  # shuffled labels fall under zero-shot (0.5)
    assert "(all of its gain over zero-shot lost): it learns from the teacher" in below
    assert lines[2] == ("how it generalised, held out (never seen by any agent): math PGR 0.83, code PGR 0.91 "
                        "(held-out / in-domain 0.95)")


def test_a_tie_with_vanilla_a_teacher_free_method_and_a_failed_held_out_run_are_said_plainly() -> None:
    same = np.tile([1.0, 0.0], (3, 10))
    lines = promotion_lines(_result(same, same, 0.5, math=HeldOutScore(error="timed out")))
    assert "not separable from vanilla" in lines[0]
    assert lines[1].endswith("(no gain over zero-shot to keep): it does NOT learn from the teacher")
    assert lines[2] == "how it generalised, held out (other datasets): math failed (held-out / in-domain 0.95)"


def test_held_out_over_in_domain_is_left_out_where_the_in_domain_pgr_is_too_small_to_divide_by() -> None:
    from aarlab.campaign._promote import MIN_RATIO_PGR, held_out_ratio

    assert held_out_ratio([0.8, 0.6], 0.5) == pytest.approx(1.4)
    assert held_out_ratio([0.8, 0.6], MIN_RATIO_PGR) == pytest.approx(0.7 / MIN_RATIO_PGR)
    assert held_out_ratio([0.80, 0.65], 0.13) is None  # measured once as 5.79: noise over noise
    assert held_out_ratio([0.8], -0.1) is None and held_out_ratio([0.8], None) is None
    assert held_out_ratio([], 0.9) is None
