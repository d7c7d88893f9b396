"""A build refused on its world draws another (only from a secret it drew itself), and every refusal is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aarlab.suites import Suite, is_built, load_suite
from aarlab.suites._build import MAX_WORLDS, SuiteBuildError
from aarlab.suites._secret import SECRET_FILE, load_or_create_build_secret, read_build_secret, secret_fingerprint

GAP = "the strong ceiling does not beat the weak teacher enough: math: strong_acc 0.883 - weak_acc 0.872 < 0.1"


class _Worlds:
    """Stand-ins for the tiny builder and the baselines: each world draws (or keeps) the secret, leaves files a
    world makes, and is refused by the baselines while ``refuse`` says so (one entry per world, True = refused)."""

    def __init__(self, suite: Suite, refuse: list[bool], builder_refuses: bool = False,
                 pgrs: list[float] | None = None) -> None:
        self.suite, self.refuse, self.builder_refuses = suite, list(refuse), builder_refuses
        self.pgrs = list(pgrs or [])  # per world: the math vanilla PGR of the means (0.5 when not given)
        self.secrets: list[str] = []

    def build_tiny(self, suite: Suite, *_a: Any, **_k: Any) -> dict[str, Any]:
        self.secrets.append(load_or_create_build_secret(suite.root))
        for name in ("models", "cache", "shortcuts", "data"):
            (suite.root / name).mkdir(parents=True, exist_ok=True)
            (suite.root / name / f"made-from-{self.secrets[-1][:8]}").write_text("x")
        if self.builder_refuses:
            raise SuiteBuildError("the weak model failed the teacher gate", report={"gates": {"weak": "measured"}})
        return {"gates": {}}

    def baselines(self, suite: Suite, *_a: Any, **_k: Any) -> dict[str, Any]:
        results = {d: {"weak_acc": 0.7, "strong_acc": 0.9, "transfer_acc": 0.8, "pgr": 0.5}
                   for d in suite.spec.datasets}
        if self.pgrs:
            results["math"].update(pgr=self.pgrs.pop(0), transfer_acc=0.91)
        if self.refuse.pop(0):
            raise SuiteBuildError(GAP, report=results)
        return results


def _stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refuse: list[bool], **kw: Any) -> tuple[Suite, _Worlds]:
    from aarlab.suites import _build, tiny

    suite = load_suite("tiny", tmp_path)
    suite.root.mkdir(parents=True)
    worlds = _Worlds(suite, refuse, **kw)
    monkeypatch.setattr(tiny, "build_tiny", worlds.build_tiny)
    monkeypatch.setattr(_build, "compute_baselines", worlds.baselines)
    monkeypatch.setattr(_build, "refuse_shortcuts", lambda *_a: None)
    monkeypatch.setattr(tiny, "after_baselines", lambda *_a, **_k: None)
    monkeypatch.setattr("aarlab.suites._scorable.unscorable", lambda *_a: [])  # the stand-ins write no datasets
    return suite, worlds


def _build(suite: Suite) -> tuple[dict[str, Any], list[str]]:
    from aarlab.suites import _build

    logs: list[str] = []
    return _build._build(suite, lambda *_: None, workers=1, log=logs.append), logs


def _report(suite: Suite) -> dict[str, Any]:
    return json.loads((suite.root / "build_report.json").read_text())


def test_a_world_refused_for_its_gap_is_redrawn_and_the_refusal_is_in_the_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, worlds = _stub(tmp_path, monkeypatch, [True, False])
    report, logs = _build(suite)
    assert is_built(suite) and len(worlds.secrets) == 2 and worlds.secrets[0] != worlds.secrets[1]
    assert read_build_secret(suite.root) == worlds.secrets[1]
    (refusal,) = report["refused_worlds"]
    assert refusal["secret_fingerprint"] == secret_fingerprint(worlds.secrets[0]) and refusal["refused"] == GAP
    assert worlds.secrets[0] not in json.dumps(report)  # the report names a refused secret, never reveals it
    assert _report(suite)["refused_worlds"] == report["refused_worlds"] and "refused" not in _report(suite)
    for name in ("models", "cache", "shortcuts", "data"):  # nothing of the first world is left to mix in
        assert [p.name for p in (suite.root / name).iterdir()] == [f"made-from-{worlds.secrets[1][:8]}"]
    assert any("world 1 refused" in line and "drawing another world" in line for line in logs)


def test_a_build_gives_up_after_max_worlds_and_leaves_every_refusal_readable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, worlds = _stub(tmp_path, monkeypatch, [True] * MAX_WORLDS)
    with pytest.raises(SuiteBuildError, match="does not beat the weak teacher"):
        _build(suite)
    report = _report(suite)
    assert not is_built(suite) and len(worlds.secrets) == MAX_WORLDS
    assert [r["world"] for r in report["refused_worlds"]] == list(range(1, MAX_WORLDS + 1))
    assert report["refused"] == GAP and report["vanilla"]["math"]["weak_acc"] == 0.7  # what the baselines measured
    assert read_build_secret(suite.root) == worlds.secrets[-1]  # the last world stays for inspection


def test_a_rerun_after_a_refused_build_draws_a_new_world_at_once(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    suite, worlds = _stub(tmp_path, monkeypatch, [True] * MAX_WORLDS + [False])
    with pytest.raises(SuiteBuildError):
        _build(suite)
    refused_secret = read_build_secret(suite.root)
    report, logs = _build(suite)
    assert is_built(suite) and read_build_secret(suite.root) not in (None, refused_secret)
    assert any("a build before refused the world of the build secret it drew" in line for line in logs)
    assert [r["world"] for r in report["refused_worlds"]] == list(range(1, MAX_WORLDS + 1))  # the history is kept
    assert report["refused_worlds"][-1]["secret_fingerprint"] == secret_fingerprint(refused_secret or "")


def test_a_secret_placed_before_the_build_is_never_discarded(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    suite, worlds = _stub(tmp_path, monkeypatch, [True, True, False])
    (suite.root / SECRET_FILE).write_text("ab" * 32 + "\n")
    for _ in range(2):  # refused, and refused again when built again: it stays the user's world
        with pytest.raises(SuiteBuildError, match="does not beat"):
            _build(suite)
    assert worlds.secrets == ["ab" * 32] * 2 and read_build_secret(suite.root) == "ab" * 32
    (refusal,) = _report(suite)["refused_worlds"]
    assert not is_built(suite) and refusal["drawn_by_build"] is False


def test_a_builder_gate_refusal_keeps_the_gates_it_measured(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    suite, worlds = _stub(tmp_path, monkeypatch, [], builder_refuses=True)
    with pytest.raises(SuiteBuildError, match="teacher gate"):
        _build(suite)
    report = _report(suite)
    assert len(worlds.secrets) == MAX_WORLDS and report["builder"] == {"gates": {"weak": "measured"}}
    assert "vanilla" not in report and not is_built(suite)


def test_the_real_discard_removes_the_secret_and_every_world_artefact(tmp_path: Path) -> None:
    from aarlab.suites.tiny import discard_world

    suite = load_suite("tiny", tmp_path)
    load_or_create_build_secret(suite.root)
    for name in ("models/strong", "cache/weak_teacher", "shortcuts/math", "data/math"):
        (suite.root / name).mkdir(parents=True)
        (suite.root / name / "f").write_text("x")
    (suite.root / "build_report.json").write_text("{}")
    discard_world(suite)
    assert sorted(p.name for p in suite.root.iterdir()) == ["build_report.json"]


@pytest.mark.parametrize("pgr", [1.05, 1.0, 0.0, -0.2])
def test_a_world_whose_vanilla_pgr_of_the_means_misses_the_bar_is_refused_and_redrawn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pgr: float) -> None:
    suite, worlds = _stub(tmp_path, monkeypatch, [False, False], pgrs=[pgr, 0.8])
    report, _logs = _build(suite)
    (refusal,) = report["refused_worlds"]
    assert refusal["refused"].startswith("the vanilla PGR of the seed means is outside the acceptance bar")
    assert f"math: vanilla PGR {pgr:.2f}" in refusal["refused"] and "code" not in refusal["refused"]
    assert is_built(suite) and report["vanilla"]["math"]["pgr"] == 0.8 and len(worlds.secrets) == 2


def test_the_bar_refuses_only_for_a_builder_that_says_so_and_never_an_experimental_dataset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aarlab.suites import tiny

    suite, _worlds = _stub(tmp_path, monkeypatch, [False], pgrs=[1.05])
    monkeypatch.setattr(tiny, "REFUSES_OUTSIDE_BAR", False)
    report, logs = _build(suite)
    assert is_built(suite) and report["refused_worlds"] == []
    assert any(line.startswith("warning: outside the acceptance bar") and "math" in line for line in logs)
    other = load_suite("tiny", tmp_path / "experimental")
    other = Suite(other.spec.model_copy(update={"experimental": ["math"]}), other.home)
    other.root.mkdir(parents=True)
    monkeypatch.setattr(tiny, "REFUSES_OUTSIDE_BAR", True)
    worlds = _Worlds(other, [False], pgrs=[1.05])
    monkeypatch.setattr(tiny, "build_tiny", worlds.build_tiny)
    monkeypatch.setattr("aarlab.suites._build.compute_baselines", worlds.baselines)
    report, _logs = _build(other)
    assert report["refused_worlds"] == [] and is_built(other)


def test_suites_build_says_how_many_worlds_were_refused_and_where_the_reasons_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import aarlab.suites
    from aarlab.cli import app

    suite, _worlds = _stub(tmp_path, monkeypatch, [True, False])
    monkeypatch.setattr(aarlab.suites, "build_suite", lambda s, *_a, **_k: _build(s)[0])
    shown = CliRunner().invoke(app, ["suites", "build", "tiny", "--home", str(tmp_path), "--threads", "1"],
                               env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "1 world(s) refused before this one" in shown.output
    assert f"{suite.root / 'build_report.json'} under refused_worlds" in shown.output


def _write_test_split(suite: Suite, dataset: str, questions: int) -> None:
    """A dataset dir whose test split has ``questions`` distinct questions, each as two repeated rows."""
    directory = suite.data_path(dataset)
    directory.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"{q}-{r}", "question": f"q{q}", "choice": str(q % 3), "label": r == 0}
            for q in range(questions) for r in (0, 1)]
    for split in ("train_label", "train_unlabel", "test"):
        (directory / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_a_dataset_every_submission_on_which_the_service_would_flag_gap_too_small_is_unscorable(
        tmp_path: Path) -> None:
    from aarlab.suites._scorable import unscorable

    suite = load_suite("tiny", tmp_path)
    for name in ("math", "code", "chat"):
        _write_test_split(suite, name, 60)
    results = {"math": {"weak_acc": 0.767, "strong_acc": 0.933},  # tiny math before 2026-12-05: SE 0.27 on 30
               "code": {"weak_acc": 0.697, "strong_acc": 0.992}, "chat": {"weak_acc": 0.60, "strong_acc": 0.62}}
    lines = unscorable(suite, results, [])
    assert [line.split(":")[0] for line in lines] == ["math", "chat"]
    assert "one SE of public PGR is 0.27" in lines[0] and "60 distinct test items, ~30 public" in lines[0]
    assert "the gap 0.020 is below" in lines[1]
    assert unscorable(suite, results, ["math", "chat"]) == []


def test_a_world_the_service_could_not_score_is_refused_and_redrawn(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    suite, worlds = _stub(tmp_path, monkeypatch, [False, False])
    verdicts = iter([["math: one SE of public PGR is 0.27 (> 0.25)"], []])
    monkeypatch.setattr("aarlab.suites._scorable.unscorable", lambda *_a: next(verdicts))
    report, _logs = _build(suite)
    (refusal,) = report["refused_worlds"]
    assert refusal["refused"].startswith("the scoring service would flag every submission gap-too-small on: math")
    assert is_built(suite) and len(worlds.secrets) == 2
