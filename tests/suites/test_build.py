from pathlib import Path

from aarlab.suites import Suite, is_built, load_suite, suite_version


def test_the_suite_version_changes_with_its_definition(tmp_path: Path) -> None:
    suite = load_suite("tiny", tmp_path)
    changed = Suite(suite.spec.model_copy(update={"baseline_seeds": [0]}), tmp_path)
    assert suite_version(suite) != suite_version(changed)


def test_a_suite_is_built_only_when_its_baselines_match_its_version(tiny_suite: Suite, tmp_path: Path) -> None:
    assert is_built(tiny_suite)
    assert not is_built(load_suite("tiny", tmp_path))
    changed = Suite(tiny_suite.spec.model_copy(update={"baseline_seeds": [7]}), tiny_suite.home)
    assert not is_built(changed)



def test_the_gap_is_enforced_except_on_datasets_marked_experimental() -> None:
    from aarlab.suites._build import gap_problems

    results = {"chat": {"weak_acc": 0.77, "strong_acc": 0.92}, "code": {"weak_acc": 0.53, "strong_acc": 0.55}}
    assert gap_problems(results, 0.08, []) == ["code: strong_acc 0.550 - weak_acc 0.530 < 0.08"]
    assert gap_problems(results, 0.08, ["code"]) == []
    assert gap_problems(results, 0.5, ["code"]) == ["chat: strong_acc 0.920 - weak_acc 0.770 < 0.5"]
