from pathlib import Path

import pytest

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


class _InProcessPool:
    """Stands in for the build's process pool: runs each job in this process, so a test can replace the job."""

    def __init__(self, **_kwargs: object) -> None:
        pass

    def __enter__(self) -> "_InProcessPool":
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def submit(self, fn, *args):  # type: ignore[no-untyped-def]
        from concurrent.futures import Future

        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as err:  # noqa: BLE001 - handed to the caller like a real pool does
            future.set_exception(err)
        return future


def test_a_dataset_without_any_gap_stops_the_build_with_a_message_naming_it(
        micro_suite: Suite, monkeypatch: pytest.MonkeyPatch) -> None:
    from aarlab.suites import SuiteBuildError, _build
    from aarlab.w2s.metrics import pgr

    def no_gap(_suite: Suite, _dataset: str) -> dict:
        return {"pgr": pgr(0.7, 0.7, 0.7)}  # strong_acc == weak_acc: what Experiment.run meets without a gap

    baselines = micro_suite.root / "baselines.json"
    before = baselines.read_bytes() if baselines.exists() else None
    monkeypatch.setattr(_build, "ProcessPoolExecutor", _InProcessPool)
    monkeypatch.setattr(_build, "_vanilla_worker", no_gap)
    with pytest.raises(SuiteBuildError, match="dataset 'math' has no weak-to-strong gap"):
        _build.compute_baselines(micro_suite, lambda *_: None, workers=1)
    assert (baselines.read_bytes() if baselines.exists() else None) == before  # nothing half-written


def test_the_build_writes_the_strong_models_zero_shot_as_a_shortcut_reference(micro_suite: Suite) -> None:
    """The scoring service can only flag a copy of the strong model's zero-shot if the build leaves it one."""
    from aarlab.suites import _build
    from aarlab.w2s.pipeline import Experiment, default_cache
    from aarlab.w2s.shortcuts import STRONG_ZERO_SHOT, read_references

    for dataset in micro_suite.spec.datasets:
        experiment = Experiment(micro_suite, dataset, default_cache(micro_suite))
        accuracy = _build._write_strong_zero_shot(micro_suite, experiment)
        reference = read_references(micro_suite.root, dataset)[STRONG_ZERO_SHOT]
        assert set(reference) == {e.id for e in experiment.dataset.split("test")}
        assert all(0.0 <= p <= 1.0 for p in reference.values()) and 0.0 <= accuracy <= 1.0


def _stub_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shortcuts) -> tuple[Suite, list[str]]:  # type: ignore[no-untyped-def]
    """A tiny suite whose builder, baselines and shortcut report are stand-ins; returns it and the call log."""
    from aarlab.suites import _build, tiny

    suite = load_suite("tiny", tmp_path)
    suite.root.mkdir(parents=True)
    (suite.root / "baselines.json").write_text('{"version": "an older build"}')
    calls: list[str] = []
    inside = {"weak_acc": 0.7, "strong_acc": 0.9, "transfer_acc": 0.8, "pgr": 0.5}
    monkeypatch.setattr(tiny, "build_tiny", lambda *_a, **_k: {"gates": {}})
    monkeypatch.setattr(_build, "compute_baselines", lambda *_a, **_k: {d: dict(inside) for d in suite.spec.datasets})

    def refuse(*_a: object) -> None:
        calls.append("shortcuts")
        assert not (suite.root / "baselines.json").exists()  # nothing says "built" before every check passed
        shortcuts()

    monkeypatch.setattr(_build, "refuse_shortcuts", refuse)
    monkeypatch.setattr("aarlab.suites._scorable.unscorable", lambda *_a: [])  # no datasets written here
    return suite, calls


def test_baselines_are_written_last_once_every_check_has_passed(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from aarlab.suites import _build

    suite, calls = _stub_build(tmp_path, monkeypatch, lambda: None)
    _build._build(suite, lambda *_: None, workers=1, log=lambda _m: None)
    assert calls == ["shortcuts"] and is_built(suite)
    assert not list(suite.root.glob(".baselines.json.*"))  # the atomic write's temporary file is gone


@pytest.mark.parametrize("failure", [RuntimeError("refused"), KeyboardInterrupt()])
def test_a_build_refused_or_interrupted_at_its_last_check_is_not_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> None:
    from aarlab.suites import _build

    def fail() -> None:
        raise failure

    suite, calls = _stub_build(tmp_path, monkeypatch, fail)
    with pytest.raises(type(failure)):
        _build._build(suite, lambda *_: None, workers=1, log=lambda _m: None)
    assert calls == ["shortcuts"] and not is_built(suite) and not (suite.root / "baselines.json").exists()
