from pathlib import Path

import pytest

from aarlab.suites import SuiteError, builtin_suite_names, load_suite


def test_tiny_is_a_builtin_suite_with_three_datasets(tmp_path: Path) -> None:
    assert "tiny" in builtin_suite_names()
    suite = load_suite("tiny", tmp_path)
    assert suite.spec.datasets == ["math", "code", "chat"]
    assert suite.model_path(suite.spec.strong) == str(tmp_path / "suites" / "tiny" / "models" / "strong")
    assert suite.data_path("math") == tmp_path / "suites" / "tiny" / "data" / "math"


def test_unknown_suite_and_dataset_list_the_valid_names(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="unknown suite 'nope'; valid: .*tiny"):
        load_suite("nope", tmp_path)
    with pytest.raises(SuiteError, match="unknown dataset 'nope' for suite 'tiny'; valid: math, code, chat"):
        load_suite("tiny", tmp_path).check_dataset("nope")


def test_invalid_suite_file_names_the_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ndescription = "x"\ndatasets = ["a"]\n[weak]\nmodel = "w"\n[strong]\nmodel = "s"\n'
                    '[weak_train]\nlr = -1\n[strong_train]\nepochs = 1\nsurprise = 2\n')
    with pytest.raises(SuiteError, match=r"mine.toml: invalid suite: weak_train.lr: .*strong_train.surprise"):
        load_suite(str(path), tmp_path)
    (tmp_path / "broken.toml").write_text("name = ")
    with pytest.raises(SuiteError, match="cannot read suite file"):
        load_suite(str(tmp_path / "broken.toml"), tmp_path)
