"""Thread counts: usable cores from affinity and cgroup quotas, the share per worker, and what wins over what."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aarlab import _threads
from aarlab._threads import (
    THREADS_ENV,
    busy_cores,
    cgroup_cores,
    pick_threads,
    thread_env,
    threads_restored,
    usable_cores,
    use_threads,
)


@pytest.fixture
def affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process may run on 8 CPUs."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _proc_cgroup(tmp_path: Path, text: str = "0::/\n") -> Path:
    path = tmp_path / "proc_self_cgroup"
    path.write_text(text)
    return path


def test_without_cgroup_files_the_affinity_is_the_usable_core_count(tmp_path: Path, affinity: None) -> None:
    assert cgroup_cores(tmp_path / "cgroup", _proc_cgroup(tmp_path)) is None
    assert usable_cores(tmp_path / "cgroup", _proc_cgroup(tmp_path)) == 8


def test_a_cgroup_v2_quota_caps_the_cores_rounded_down(tmp_path: Path, affinity: None) -> None:
    _write(tmp_path / "cgroup" / "cpu.max", "250000 100000\n")
    assert cgroup_cores(tmp_path / "cgroup", _proc_cgroup(tmp_path)) == 2.5
    assert usable_cores(tmp_path / "cgroup", _proc_cgroup(tmp_path)) == 2


def test_a_cgroup_v2_max_means_no_quota(tmp_path: Path, affinity: None) -> None:
    _write(tmp_path / "cgroup" / "cpu.max", "max 100000\n")
    assert usable_cores(tmp_path / "cgroup", _proc_cgroup(tmp_path)) == 8


def test_the_tightest_quota_on_the_way_to_the_own_cgroup_applies(tmp_path: Path, affinity: None) -> None:
    root = tmp_path / "cgroup"
    _write(root / "cpu.max", "max 100000\n")
    _write(root / "jobs" / "cpu.max", "600000 100000\n")
    _write(root / "jobs" / "me" / "cpu.max", "300000 100000\n")
    _write(root / "other" / "cpu.max", "100000 100000\n")  # a sibling cgroup: not ours
    assert usable_cores(root, _proc_cgroup(tmp_path, "0::/jobs/me\n")) == 3


def test_a_cgroup_v1_cfs_quota_caps_the_cores(tmp_path: Path, affinity: None) -> None:
    root = tmp_path / "cgroup"
    _write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "400000\n")
    _write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    assert usable_cores(root, _proc_cgroup(tmp_path, "3:cpu,cpuacct:/\n2:memory:/x\n")) == 4


def test_a_cgroup_v1_quota_of_minus_one_means_no_quota(tmp_path: Path, affinity: None) -> None:
    root = tmp_path / "cgroup"
    _write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert usable_cores(root, _proc_cgroup(tmp_path, "1:cpu:/\n")) == 8


def test_an_affinity_narrower_than_the_quota_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    _write(tmp_path / "cgroup" / "cpu.max", "800000 100000\n")
    assert usable_cores(tmp_path / "cgroup", _proc_cgroup(tmp_path)) == 2


def test_a_quota_below_one_core_still_leaves_one(tmp_path: Path, affinity: None) -> None:
    _write(tmp_path / "cgroup" / "cpu.max", "50000 100000\n")
    assert usable_cores(tmp_path / "cgroup", _proc_cgroup(tmp_path)) == 1


def test_busy_cores_are_the_load_average_or_the_runnable_others_if_more(tmp_path: Path) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("3.40 1.20 0.50 2/180 4242\n")  # 2 runnable: this reader and one other
    assert busy_cores(loadavg, interval_s=0) == 3
    loadavg.write_text("0.10 0.20 0.30 4/180 4242\n")  # just started together: the load average lags behind
    assert busy_cores(loadavg, interval_s=0) == 3


class _Flickering:
    """A /proc/loadavg whose runnable count jumps once (a process flickering by)."""

    def __init__(self, runnable: list[int]) -> None:
        self.runnable = runnable

    def read_text(self) -> str:
        return f"0.00 0.00 0.00 {self.runnable.pop(0)}/100 1\n"


def test_a_process_runnable_in_only_one_sample_is_not_busy() -> None:
    assert busy_cores(_Flickering([5, 1, 1, 1, 1]), interval_s=0) == 0  # type: ignore[arg-type]


def test_without_a_readable_loadavg_busy_cores_fall_back_to_getloadavg(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (1.6, 0.0, 0.0))
    assert busy_cores(tmp_path / "missing", interval_s=0) == 2


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """4 usable cores, 1 kept busy by others, no AARLAB_THREADS."""
    monkeypatch.setattr(_threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(_threads, "busy_cores", lambda: 1)
    monkeypatch.delenv(THREADS_ENV, raising=False)


def test_by_default_a_process_takes_the_free_cores(machine: None) -> None:
    assert pick_threads() == 3


def test_workers_running_at_once_divide_the_cores_at_least_one_each(machine: None) -> None:
    assert pick_threads(workers=2) == 1
    assert pick_threads(workers=8) == 1


def test_a_machine_busier_than_its_cores_still_leaves_one_thread(machine: None,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "busy_cores", lambda: 9)
    assert pick_threads() == 1


def test_aarlab_threads_wins_over_the_detected_cores_and_is_divided_among_workers(
        machine: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "6")
    assert pick_threads() == 6
    assert pick_threads(workers=2) == 3


def test_an_explicit_thread_count_wins_over_aarlab_threads(machine: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "6")
    assert pick_threads(explicit=2) == 2
    assert pick_threads(workers=2, explicit=8) == 4


@pytest.mark.parametrize("value", ["zero", "0", "-2", "1.5"])
def test_a_malformed_aarlab_threads_is_an_error_naming_the_variable(machine: None, monkeypatch: pytest.MonkeyPatch,
                                                                   value: str) -> None:
    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(ValueError, match=f"{THREADS_ENV} must be a whole number.*{value!r}"):
        pick_threads()


def test_an_empty_aarlab_threads_counts_as_unset(machine: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, " ")
    assert pick_threads() == 3


def test_zero_workers_or_threads_are_refused(machine: None) -> None:
    with pytest.raises(ValueError, match="workers"):
        pick_threads(workers=0)
    with pytest.raises(ValueError, match="threads"):
        pick_threads(explicit=0)


def test_children_get_the_share_for_torch_openmp_mkl_and_openblas() -> None:
    assert thread_env(2) == {"AARLAB_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                             "OPENBLAS_NUM_THREADS": "2"}


def test_use_threads_sets_torch_and_exports_the_share(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    for name in thread_env(1):
        monkeypatch.delenv(name, raising=False)  # restored after the test
    try:
        assert use_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert {name: os.environ[name] for name in thread_env(1)} == thread_env(1)
    finally:
        torch.set_num_threads(before)


def test_threads_restored_gives_back_the_count_and_the_environment_it_found(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    for name in thread_env(1):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with pytest.raises(RuntimeError), threads_restored():
        use_threads(1)
        assert torch.get_num_threads() == 1 and os.environ["AARLAB_THREADS"] == "1"
        raise RuntimeError("the work inside failed")  # restored on the way out all the same
    assert torch.get_num_threads() == before
    assert os.environ["OMP_NUM_THREADS"] == "7" and "AARLAB_THREADS" not in os.environ
