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
