import json
from pathlib import Path

import pytest

from aarlab.suites import DatasetBaseline, SuiteBaselines, SuiteNotBuiltError, load_ground_truth, suite_dir
from aarlab.w2s.data import content_id


def _write_baselines(home: Path, data_dir: Path | None) -> None:
    root = suite_dir(home, "mine")
    root.mkdir(parents=True)
    baselines = SuiteBaselines(suite="mine", version="mine-1", data_dir=str(data_dir) if data_dir else None,
                               datasets={"math": DatasetBaseline(weak_acc=0.6, strong_acc=0.8, seeds=[0])})
    (root / "baselines.json").write_text(baselines.model_dump_json())


def test_ground_truth_of_user_data_is_read_from_the_recorded_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data" / "math"
    data.mkdir(parents=True)
    lines = [{"question": "1 + 1", "choice": "2", "label": True}, {"question": "1 + 1", "choice": "3", "label": False}]
    (data / "test.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    _write_baselines(tmp_path / "home", tmp_path / "data")
    truth = load_ground_truth(tmp_path / "home", "mine")["math"]
    assert [e.id for e in truth.test] == [content_id(line) for line in lines]  # reference files carry no ids
    assert [e.label for e in truth.test] == [True, False] and truth.baseline.strong_acc == 0.8


def test_an_unbuilt_suite_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(SuiteNotBuiltError, match="aarlab suites build nope"):
        load_ground_truth(tmp_path, "nope")
