"""The ``aarlab`` command as a user runs it: a real subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aarlab.suites import Suite
from aarlab.w2s.data import read_split


def aarlab(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if home is not None:
        env["AARLAB_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "aarlab", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_help_is_available_for_every_command() -> None:
    for args in (["--help"], ["w2s", "run", "--help"], ["w2s", "methods", "--help"], ["data", "export", "--help"],
                 ["suites", "build", "--help"], ["w2s", "new-method", "--help"], ["w2s", "readings", "--help"]):
        result = aarlab(*args)
        assert result.returncode == 0 and "Usage" in result.stdout, args


def test_methods_lists_one_line_per_method() -> None:
    lines = aarlab("w2s", "methods").stdout.strip().splitlines()
    assert len(lines) == 7 and lines[0].split()[0] == "auxconf"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "nope"], "unknown suite 'nope'; valid: cpu, paper, tiny"),
        (["--lane", "gpu"], "unknown lane 'gpu'; valid: finetune, probe"),
        (["--dataset", "nope"], "unknown dataset 'nope' for suite 'tiny'; valid: math, code, chat"),
        (["--method", "nope"], "unknown method 'nope'; valid: auxconf"),
    ],
)
def test_unknown_names_exit_2_listing_valid_ones(tmp_path: Path, args: list[str], message: str) -> None:
    result = aarlab("w2s", "run", *args, home=tmp_path)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.stderr


def test_new_method_writes_a_template_that_refuses_to_overwrite(tmp_path: Path) -> None:
    first = aarlab("w2s", "new-method", "my_idea", "--dir", str(tmp_path))
    assert first.returncode == 0 and (tmp_path / "my_idea.py").is_file()
    assert aarlab("w2s", "new-method", "my_idea", "--dir", str(tmp_path)).returncode == 1
    assert aarlab("w2s", "new-method", "not-valid", "--dir", str(tmp_path)).returncode == 2


def test_run_prints_a_table_and_writes_the_result_json(tiny_suite: Suite, tmp_path: Path) -> None:
    out, preds = tmp_path / "result.json", tmp_path / "preds.jsonl"
    result = aarlab("w2s", "run", "--suite", "tiny", "--dataset", "math", "--method", "vanilla", "--seeds", "2",
                    "--out", str(out), "--predictions", str(preds), home=tiny_suite.home)
    assert result.returncode == 0, result.stderr
    assert "transfer_acc" in result.stdout
    data = json.loads(out.read_text())
    assert {"weak_acc", "strong_acc", "transfer_acc", "pgr", "pgr_ci", "seeds"} <= set(data)
    assert len(data["seeds"]) == 2 and len(data["pgr_ci"]) == 2
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    test_ids = [e.id for e in read_split(tiny_suite.data_path("math") / "test.jsonl").examples]
    assert [r["id"] for r in rows] == test_ids and all(0 <= r["p"] <= 1 for r in rows)


def test_readings_compares_layers_and_refuses_bad_ones(tiny_suite: Suite, tmp_path: Path) -> None:
    md, raw = tmp_path / "readings.md", tmp_path / "readings.json"
    result = aarlab("w2s", "readings", "--suite", "tiny", "--dataset", "math", "--layer", "1", "--layer", "-1",
                    "--seeds", "1", "--out", str(md), "--json", str(raw), home=tiny_suite.home)
    assert result.returncode == 0, result.stderr
    assert "answer-only" in result.stdout
    rows = json.loads(raw.read_text())
    assert [(r["layer"], r["pooling"]) for r in rows] == [(1, "last"), (-1, "last")]
    assert md.read_text().count("\n| ") == 3
    for args, message in ((["--layer", "99"], "out of range for the strong model"),
                          (["--layer", "1", "--pooling", "middle"], "unknown pooling 'middle'"),
                          (["--layer", "1", "--role", "teacher"], "unknown role 'teacher'")):
        bad = aarlab("w2s", "readings", "--suite", "tiny", "--dataset", "math", *args, home=tiny_suite.home)
        assert bad.returncode == 2 and message in " ".join(bad.stderr.split()), (args, bad.stderr)
        assert "Traceback" not in bad.stderr


def test_data_export_writes_label_free_files(tiny_suite: Suite, tmp_path: Path) -> None:
    result = aarlab("data", "export", "--suite", "tiny", "--dataset", "chat", "--out", str(tmp_path / "x"),
                    home=tiny_suite.home)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "x").iterdir())
    assert names == ["test.jsonl", "train_unlabel.jsonl", "weak_soft_labels.jsonl"]
    for name in ("test.jsonl", "train_unlabel.jsonl"):
        records = [json.loads(line) for line in (tmp_path / "x" / name).read_text().splitlines()]
        assert records and all("label" not in r for r in records)
    soft = [json.loads(line) for line in (tmp_path / "x" / "weak_soft_labels.jsonl").read_text().splitlines()]
    unlabeled = (tmp_path / "x" / "train_unlabel.jsonl").read_text().splitlines()
    assert len(soft) == len(unlabeled) and all(0 <= r["p"] <= 1 for r in soft)


def test_suites_list_and_show(tiny_suite: Suite) -> None:
    listed = aarlab("suites", "list", home=tiny_suite.home)
    assert "tiny" in listed.stdout and "built" in listed.stdout
    shown = json.loads(aarlab("suites", "show", "tiny", home=tiny_suite.home).stdout)
    assert set(shown["baselines"]["datasets"]) == {"math", "code", "chat"}
