from aarlab.suites import Suite
from aarlab.suites._shortcut_report import shortcut_problems, shortcut_report


def _row(best_acc: float, weak_acc: float) -> dict:
    return {"shortcuts": {"majority-vote": best_acc}, "best": "majority-vote", "best_acc": best_acc,
            "weak_acc": weak_acc, "margin": weak_acc - best_acc}


def test_a_dataset_whose_shortcut_reaches_the_teacher_is_a_problem_naming_both_numbers() -> None:
    problems = shortcut_problems({"math": _row(0.81, 0.80), "chat": _row(0.60, 0.80)}, experimental=[])
    assert len(problems) == 1 and "math" in problems[0] and "0.810" in problems[0] and "0.800" in problems[0]


def test_an_experimental_dataset_is_reported_but_not_refused() -> None:
    assert shortcut_problems({"code": _row(0.9, 0.7)}, experimental=["code"]) == []


def test_the_report_scores_every_known_shortcut_and_picks_the_best(micro_suite: Suite) -> None:
    report = shortcut_report(micro_suite, {"math": 0.7, "chat": 0.7}, {"math": {"planted-cue": 0.99}})
    assert set(report) == {"math", "chat"}
    assert {"majority-vote", "answer-frequency"} <= set(report["chat"]["shortcuts"])
    assert report["math"]["best"] == "planted-cue" and report["math"]["margin"] < 0
    assert all(0.0 <= acc <= 1.0 for row in report.values() for acc in row["shortcuts"].values())
