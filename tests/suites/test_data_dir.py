"""``--data-dir`` only ever reads the user's directory: builders write under the suite's home, never there."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aarlab.cli import app
from aarlab.suites import Suite, SuiteBuildError, build_suite, is_built, load_suite, suite_version
from aarlab.suites import _build as build_module

SPLITS = ("train_label", "train_unlabel", "test")


def user_data(root: Path, datasets: list[str]) -> Path:
    """A user's data dir: one JSONL file per split of each dataset, contents unlike anything a builder writes."""
    for dataset in datasets:
        (root / dataset).mkdir(parents=True)
        for split in SPLITS:
            row = {"question": f"mine {dataset}/{split}?", "answer": "yes", "label": True, "id": f"{split}-0"}
            (root / dataset / f"{split}.jsonl").write_text(json.dumps(row) + "\n")
    (root / "NOTES.txt").write_text("the user's own file\n")
    return root


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


class FakeBuilder:
    """Stands in for the tiny/cpu build: writes synthetic datasets to wherever the suite reads them, its built
    models (empty files) and baselines."""

    def __init__(self) -> None:
        self.builds: list[str] = []

    def __call__(self, suite: Suite, _progress: Any, *, workers: int, log: Any) -> dict[str, Any]:
        self.builds.append(suite.name)
        for dataset in suite.spec.datasets:
            path = suite.data_path(dataset)
            path.mkdir(parents=True, exist_ok=True)
            for split in SPLITS:
                (path / f"{split}.jsonl").write_text('{"synthetic": true}\n')
        for ref in (suite.spec.weak, suite.spec.strong):  # the built models a run checks for before it starts
            model = Path(suite.model_path(ref))
            model.mkdir(parents=True, exist_ok=True)
            (model / "config.json").write_text("{}")
            (model / "model.safetensors").write_text("")
        (suite.root / "baselines.json").write_text(json.dumps({"version": suite_version(suite)}))
        return {"fake": True}


@pytest.fixture
def builder(monkeypatch: pytest.MonkeyPatch) -> FakeBuilder:
    fake = FakeBuilder()
    monkeypatch.setattr(build_module, "_build", fake)
    return fake


@pytest.mark.parametrize("name", ["tiny", "cpu"])
def test_running_a_built_suite_on_a_data_dir_leaves_the_users_files_byte_identical(
        name: str, tmp_path: Path, builder: FakeBuilder) -> None:
    from aarlab.w2s.cli import _suite

    home = tmp_path / "home"
    data = user_data(tmp_path / "mine", load_suite(name, home).spec.datasets)
    before = digest(data)
    suite = _suite(name, home, data_dir=data)
    assert digest(data) == before
    assert builder.builds == [name]  # the home was built, not the data dir
    assert is_built(load_suite(name, home))
    assert suite.data_path(suite.spec.datasets[0]) == data.resolve() / suite.spec.datasets[0]


@pytest.mark.parametrize("name", ["tiny", "cpu"])
def test_a_home_built_once_counts_as_built_whatever_the_data_dir(
        name: str, tmp_path: Path, builder: FakeBuilder) -> None:
    from aarlab.w2s.cli import _suite

    home = tmp_path / "home"
    data = user_data(tmp_path / "mine", load_suite(name, home).spec.datasets)
    _suite(name, home)
    _suite(name, home, data_dir=data)
    _suite(name, home, data_dir=data)
    assert builder.builds == [name]


def test_building_a_builder_suite_against_a_data_dir_is_refused_before_anything_is_written(
        tmp_path: Path, builder: FakeBuilder) -> None:
    data = user_data(tmp_path / "mine", ["math", "code", "chat"])
    before = digest(data)
    suite = load_suite("tiny", tmp_path / "home").with_data_dir(data)
    with pytest.raises(SuiteBuildError, match="--data-dir"):
        build_suite(suite, lambda *_: None, force=True)
    assert digest(data) == before and builder.builds == []


def test_the_cli_says_why_suites_build_refuses_a_data_dir_for_a_builder_suite(
        tmp_path: Path, builder: FakeBuilder) -> None:
    data = user_data(tmp_path / "mine", ["chat", "math", "code"])
    before = digest(data)
    result = CliRunner().invoke(app, ["suites", "build", "cpu", "--data-dir", str(data), "--home",
                                      str(tmp_path / "home")])
    assert result.exit_code == 1, result.output
    assert "never writes to a data directory" in result.output and "Traceback" not in result.output
    assert digest(data) == before and builder.builds == []


def test_a_suite_file_pairing_a_builder_with_data_dir_is_refused_too(tmp_path: Path, builder: FakeBuilder) -> None:
    data = user_data(tmp_path / "mine", ["math", "code", "chat"])
    spec = load_suite("tiny", tmp_path).spec.model_copy(update={"data_dir": str(data)})
    with pytest.raises(SuiteBuildError, match="never writes to a data directory"):
        build_suite(Suite(spec, tmp_path / "home"), lambda *_: None)
    assert builder.builds == []


def test_baselines_of_a_suite_without_builder_only_read_its_data_dir(
        micro_suite: Suite, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.suites.test_build import _InProcessPool

    monkeypatch.setattr(build_module, "ProcessPoolExecutor", _InProcessPool)
    data = Path(micro_suite.spec.data_dir or "")
    before = digest(data)
    with contextlib.suppress(SuiteBuildError):  # random untrained models may miss the gap: fine here
        build_suite(micro_suite, lambda *_: None, workers=1)
    assert digest(data) == before
