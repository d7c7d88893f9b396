"""Before the long work: every model and data file a suite needs is checked, and a stored no-gap is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest

from aarlab.suites import Suite, SuiteBuildError, SuiteError, build_suite, load_suite, suite_version
from aarlab.suites._preflight import check_inputs, check_stored_gap, input_problems

MISSING = "someorg/not-cached-model"
ROW = {"id": "x-0", "question": "1 + 1", "choice": "2", "label": True}


def _data(root: Path, datasets: tuple[str, ...] = ("math",)) -> Path:
    for dataset in datasets:
        (root / dataset).mkdir(parents=True)
        for split in ("train_label", "train_unlabel", "test"):
            (root / dataset / f"{split}.jsonl").write_text(json.dumps(ROW) + "\n")
    return root


def _model(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_text("")
    return root


def _suite_file(path: Path, *, weak: str, strong: str, data_dir: Path | None = None) -> Path:
    data = f'data_dir = "{data_dir}"\n' if data_dir is not None else ""
    path.write_text(f'name = "mine"\ndescription = "a user suite"\ndatasets = ["math"]\n{data}'
                    f'[weak]\nmodel = "{weak}"\n[strong]\nmodel = "{strong}"\n[strong_train]\n')
    return path


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hub access off and an empty Hugging Face cache."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(huggingface_hub, "model_info", lambda *_a, **_k: pytest.fail("asked the hub offline"))
    return tmp_path / "hf-cache"


def test_a_suite_whose_models_and_files_are_there_passes(tmp_path: Path, offline: Path) -> None:
    file = _suite_file(tmp_path / "s.toml", weak=str(_model(tmp_path / "w")), strong=str(_model(tmp_path / "s")),
                       data_dir=_data(tmp_path / "data"))
    check_inputs(load_suite(str(file), tmp_path / "home"))


def test_an_uncached_hub_model_is_named_with_its_role_and_what_to_do(tmp_path: Path, offline: Path) -> None:
    file = _suite_file(tmp_path / "s.toml", weak=str(_model(tmp_path / "w")), strong=MISSING,
                       data_dir=_data(tmp_path / "data"))
    with pytest.raises(SuiteError, match="nothing was trained") as caught:
        check_inputs(load_suite(str(file), tmp_path / "home"))
    assert f"strong model ({MISSING})" in str(caught.value) and f"hf download {MISSING}" in str(caught.value)
    assert "weak model" not in str(caught.value)


def test_a_missing_split_file_is_named(tmp_path: Path, offline: Path) -> None:
    data = _data(tmp_path / "data")
    (data / "math" / "test.jsonl").unlink()
    file = _suite_file(tmp_path / "s.toml", weak=str(_model(tmp_path / "w")), strong=str(_model(tmp_path / "s")),
                       data_dir=data)
    assert input_problems(load_suite(str(file), tmp_path / "home")) == [
        f"dataset 'math': {data / 'math'} has no test.jsonl"]


def test_what_a_builder_writes_is_not_asked_for_before_the_build(tmp_path: Path, offline: Path) -> None:
    tiny = load_suite("tiny", tmp_path / "empty-home")
    assert input_problems(tiny) == []
    assert any("does not exist" in p for p in input_problems(tiny, built=True))


def test_a_build_is_refused_before_any_work_when_a_model_is_missing(tmp_path: Path, offline: Path) -> None:
    file = _suite_file(tmp_path / "s.toml", weak=MISSING, strong=str(_model(tmp_path / "s")),
                       data_dir=_data(tmp_path / "data"))
    suite = load_suite(str(file), tmp_path / "home")
    with pytest.raises(SuiteBuildError, match=f"weak model \\({MISSING}\\)"):
        build_suite(suite, lambda *_: None)
    assert not (suite.root / "baselines.json").exists()


def test_w2s_run_fails_in_seconds_with_one_message_and_no_retry_noise(tmp_path: Path) -> None:
    file = _suite_file(tmp_path / "s.toml", weak=str(_model(tmp_path / "w")), strong=MISSING,
                       data_dir=_data(tmp_path / "data"))
    env = {**os.environ, "COLUMNS": "200", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "AARLAB_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "aarlab", "w2s", "run", "--suite", str(file), "--dataset", "math",
                             "--seeds", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert MISSING in result.stderr and "nothing was trained" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 4, result.stderr  # one message, wrapped
    assert not (tmp_path / "home" / "suites" / "mine" / "cache").exists()


def _built_without_builder(tmp_path: Path, weak_acc: float, strong_acc: float) -> tuple[Suite, Path]:
    """A built suite without builder (baselines measured on a data dir): the suite and that data dir."""
    data = _data(tmp_path / "data")
    file = _suite_file(tmp_path / "s.toml", weak=str(_model(tmp_path / "w")), strong=str(_model(tmp_path / "s")))
    home_suite = load_suite(str(file), tmp_path / "home")
    home_suite.root.mkdir(parents=True)
    (home_suite.root / "baselines.json").write_text(json.dumps({
        "suite": "mine", "version": suite_version(home_suite), "data_dir": str(data.resolve()),
        "datasets": {"math": {"weak_acc": weak_acc, "strong_acc": strong_acc, "seeds": [0, 1, 2]}}}))
    return home_suite, data


def test_stored_baselines_without_a_gap_refuse_the_run_before_training(tmp_path: Path) -> None:
    home_suite, data = _built_without_builder(tmp_path, 0.62, 0.60)
    with pytest.raises(SuiteError, match="no weak-to-strong gap in its stored baselines"):
        check_stored_gap(home_suite.with_data_dir(data), home_suite, "math", None)


def test_stored_baselines_say_nothing_about_another_lane_or_other_data(tmp_path: Path) -> None:
    home_suite, data = _built_without_builder(tmp_path, 0.62, 0.60)
    check_stored_gap(home_suite.with_data_dir(data), home_suite, "math", "probe")  # measured in the finetune lane
    other = _data(tmp_path / "other")
    check_stored_gap(home_suite.with_data_dir(other), home_suite, "math", None)


def test_stored_baselines_with_a_gap_let_the_run_go(tmp_path: Path) -> None:
    home_suite, data = _built_without_builder(tmp_path, 0.60, 0.80)
    check_stored_gap(home_suite.with_data_dir(data), home_suite, "math", "finetune")
