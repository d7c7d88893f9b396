"""Two builds of one suite in two processes end with one consistent home: the second waits, then uses the first's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from aarlab.suites import is_built, load_suite

# A real `build_suite` whose build step is replaced: it logs its start, blocks until the test creates the gate
# file, then writes the home the way a builder does (datasets, models dir, baselines, report).
BUILD = """
import json, os, sys, time
from pathlib import Path
from aarlab.suites import _build, load_suite

home, gate, events = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
force = sys.argv[4] == "force"

def fake_build(suite, progress, *, workers, log):
    with events.open("a") as fh:
        fh.write(f"start {os.getpid()}\\n")
    while not gate.exists():
        time.sleep(0.02)
    for dataset in suite.spec.datasets:
        path = suite.data_path(dataset)
        path.mkdir(parents=True, exist_ok=True)
        (path / "test.jsonl").write_text(json.dumps({"built_by": os.getpid()}) + "\\n")
    report = {"built_by": os.getpid()}
    (suite.root / "build_report.json").write_text(json.dumps(report))
    (suite.root / "baselines.json").write_text(json.dumps({"version": _build.suite_version(suite)}))
    return report

_build._build = fake_build
report = _build.build_suite(load_suite("tiny", home), lambda *a: None, force=force,
                            log=lambda m: print(m, flush=True))
print("REPORT " + json.dumps(report), flush=True)
"""


def _start(tmp_path: Path, force: bool = False) -> subprocess.Popen[str]:
    script = tmp_path / "build.py"
    script.write_text(BUILD)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "home"), str(tmp_path / "gate"),
                             str(tmp_path / "events"), "force" if force else "once"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, text: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120  # a ceiling against a hang, not a speed assertion
    while text not in (path.read_text() if path.exists() else ""):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)


def _finish(proc: subprocess.Popen[str]) -> tuple[str, dict]:
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    report = json.loads(stdout.split("REPORT ", 1)[1])
    return stdout, report


def _consistent_home(tmp_path: Path, builder_pid: int) -> None:
    suite = load_suite("tiny", tmp_path / "home")
    assert is_built(suite)
    for dataset in suite.spec.datasets:
        assert json.loads((suite.data_path(dataset) / "test.jsonl").read_text()) == {"built_by": builder_pid}


def test_a_build_started_during_another_waits_says_for_whom_and_does_not_build_again(tmp_path: Path) -> None:
    first = _start(tmp_path)
    _wait_for(tmp_path / "events", f"start {first.pid}", first)
    second = _start(tmp_path, force=True)  # even --force: a build that waited uses the fresh result
    waiting = second.stdout.readline()  # type: ignore[union-attr]
    assert f"waiting for the build of suite tiny running in pid {first.pid}" in waiting
    (tmp_path / "gate").touch()
    _, first_report = _finish(first)
    second_out, second_report = _finish(second)
    assert first_report == second_report == {"built_by": first.pid}
    assert "built by the other process" in second_out
    assert (tmp_path / "events").read_text().split() == ["start", str(first.pid)]
    _consistent_home(tmp_path, first.pid)


def test_two_builds_started_together_build_once_and_agree(tmp_path: Path) -> None:
    procs = [_start(tmp_path), _start(tmp_path)]
    time.sleep(0.5)  # let both reach the lock before the gate opens (either order is fine)
    _wait_for(tmp_path / "events", "start", procs[0])
    (tmp_path / "gate").touch()
    reports = [_finish(p)[1] for p in procs]
    starts = (tmp_path / "events").read_text().splitlines()
    assert len(starts) == 1
    builder = int(starts[0].split()[1])
    assert reports == [{"built_by": builder}] * 2
    _consistent_home(tmp_path, builder)
