"""The results report: cells merged run by run, cells never run say so, experimental datasets and notes appear."""

import json
from pathlib import Path

import pytest

from aarlab.suites import Suite, SuiteSpec
from aarlab.w2s._compare import markdown_table, merge_results


def _row(lane: str, dataset: str, method: str, pgr: float) -> dict:
    return {"lane": lane, "dataset": dataset, "method": method, "weak_acc": 0.6, "strong_acc": 0.8,
            "transfer_acc": 0.6 + 0.2 * pgr, "pgr": pgr, "pgr_ci": [pgr - 0.1, pgr + 0.1],
            "seeds": [{"seed": s, "weak_acc": 0.6, "strong_acc": 0.8, "transfer_acc": 0.7, "pgr": pgr}
                      for s in (0, 1, 2)]}


@pytest.fixture
def suite(micro_suite: Suite) -> Suite:
    spec = SuiteSpec.model_validate({**micro_suite.spec.model_dump(mode="json"), "experimental": ["math"]})
    return Suite(spec, micro_suite.home)


def test_a_rerun_cell_replaces_the_old_one_and_others_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    merge_results(path, [_row("probe", "chat", "vanilla", 0.5), _row("probe", "chat", "soft", 0.4)])
    rows = merge_results(path, [_row("finetune", "chat", "vanilla", 0.3), _row("probe", "chat", "vanilla", 0.6)])
    assert {(r["lane"], r["method"], r["pgr"]) for r in rows} == {
        ("probe", "vanilla", 0.6), ("probe", "soft", 0.4), ("finetune", "vanilla", 0.3)}
    assert json.loads(path.read_text()) == rows


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"lane": "probe"}', '[{"lane": "probe"}]'])
def test_a_corrupt_results_file_is_reported(tmp_path: Path, content: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="not a results file"):
        merge_results(path, [])
    assert path.read_text() == content  # left as it was


def test_each_cell_is_delivered_when_it_finishes_and_a_failing_cell_loses_no_earlier_one(
        micro_suite: Suite, tmp_path: Path) -> None:
    from aarlab.w2s._compare import compare_methods

    broken = tmp_path / "broken.py"
    broken.write_text("from aarlab.w2s.methods import method\n\n"
                      "@method('broken', 'fails')\ndef run(ctx):\n    raise RuntimeError('boom')\n")
    delivered: list[dict] = []
    # (the micro suite's random models give a weak-to-strong gap on math, seed 0, fine-tune lane only)
    with pytest.raises(RuntimeError, match="boom"):
        compare_methods(micro_suite, ["vanilla", str(broken), "soft"], [0], workers=1, lane="finetune",
                        datasets=["math"], on_done=delivered.append)
    assert [(r["dataset"], r["method"], r["lane"]) for r in delivered] == [("math", "vanilla", "finetune")]
    rows = compare_methods(micro_suite, ["vanilla", "soft"], [0], lane="finetune", datasets=["math"],
                           on_done=delivered.append)
    assert [r["method"] for r in rows] == ["vanilla", "soft"] == [r["method"] for r in delivered[1:]]


def test_a_lane_without_a_gap_still_records_the_cell_with_pgr_undefined(micro_suite: Suite,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import queue

    from aarlab.w2s._compare import _dataset_worker
    from aarlab.w2s.pipeline import Experiment

    # a ceiling exactly as good as the teacher: no gap, whatever the random micro models would give (the worker
    # runs in this process so the patch applies; compare_methods runs the same worker in a spawned process)
    monkeypatch.setattr(Experiment, "strong_ceiling",
                        lambda self, seed: {"test_probs": self.weak_teacher(seed)["test_probs"]})
    rows: queue.Queue[dict[str, object]] = queue.Queue()
    _dataset_worker(micro_suite, "chat", ["vanilla"], [0], 1, "finetune", rows)
    row = rows.get_nowait()
    assert row["strong_acc"] <= row["weak_acc"] and row["pgr"] is None and row["pgr_ci"] is None
    assert 0 <= row["transfer_acc"] <= 1
    text = markdown_table(micro_suite, [row], [0], {})
    assert f"n/a: no gap (acc {row['transfer_acc']:.3f})" in text


def test_report_marks_cells_not_run_experimental_datasets_and_appends_notes(suite: Suite) -> None:
    rows = [_row("probe", d, m, 0.5) for d in ("chat", "math") for m in ("vanilla", "soft")]
    rows.append(_row("finetune", "chat", "vanilla", 0.4))
    text = markdown_table(suite, rows, [0, 1, 2], {"chat": {"weak": 0.5, "strong": 0.49}}, notes="Math: two tries.")
    finetune = text[text.index("## finetune lane"):]
    assert "1 of 4 method x dataset cells run" in finetune
    assert "not run" in finetune
    assert "4 of 4" in text[text.index("## probe lane"):text.index("## finetune lane")]
    declared = next(line for line in text.splitlines() if line.startswith("Declared experimental"))
    assert declared.endswith(": math.")
    assert text.rstrip().endswith("Math: two tries.")
    assert "| chat | 0.490 | 0.500 |" in text  # question-blind row: strong then weak features


def test_render_only_writes_the_report_from_the_json_cells(tiny_suite: Suite, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    results = tmp_path / "results.json"
    merge_results(results, [_row("probe", "math", "vanilla", 0.5)])
    out = tmp_path / "report.md"
    cmd = [sys.executable, "-m", "aarlab", "w2s", "compare", "--suite", "tiny", "--seeds", "3", "--render-only"]
    env = {**os.environ, "AARLAB_HOME": str(tiny_suite.home)}
    missing = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "give both" in missing.stderr
    done = subprocess.run([*cmd, "--json", str(results), "--out", str(out)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "--render-only" in text and "| vanilla | 0.50 [0.40, 0.60] (acc 0.700) |" in text
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("[1]")
    refused = subprocess.run([*cmd[:-1], "--json", str(corrupt), "--method", "vanilla", "--dataset", "math"],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "not a results file" in " ".join(refused.stderr.split())  # before training
    assert corrupt.read_text() == "[1]"


def test_the_acceptance_bar_is_measured_from_the_vanilla_numbers_not_taken_from_the_suite_file(suite: Suite) -> None:
    lane = suite.spec.lane
    rows = [_row(lane, "chat", "vanilla", 0.5), _row(lane, "math", "vanilla", 1.06), _row(lane, "code", "vanilla", 0.5),
            _row(lane, "extra", "vanilla", 0.3)]
    rows[2].update(weak_acc=0.6, strong_acc=0.65)  # a gap under the bar
    rows[3]["seeds"][1]["pgr"] = 0.0  # the PGR of the means is inside, one seed is not
    rows.append(_row("other-lane" if lane != "probe" else "finetune", "chat", "vanilla", -0.2))  # not the suite's lane
    text = markdown_table(suite, rows, [0, 1, 2])
    measured = next(line for line in text.splitlines() if line.startswith("Measured here against the acceptance bar"))
    met, missed = measured.split("misses it:")
    assert "chat (gap 0.200, vanilla PGR 0.50 (per seed 0.50 / 0.50 / 0.50))" in met
    assert "math" not in met and "code" not in met and "extra" not in met
    assert "math (gap 0.200, vanilla PGR 1.06" in missed and "code (gap 0.050, vanilla PGR 0.50" in missed
    assert "extra (gap 0.200, vanilla PGR 0.30 (per seed 0.30 / 0.00 / 0.30))" in missed
    assert "Declared experimental in the suite file (not held to the acceptance bar when building): math." in text
    only_methods = markdown_table(suite, [_row(lane, "chat", "soft", 0.5)], [0])
    assert "Measured here" not in only_methods  # no vanilla run: nothing measured, nothing claimed
