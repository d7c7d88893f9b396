"""How many CPU threads torch and BLAS may use: the cores this process can really run on, shared fairly.

torch defaults to one thread per core of the machine. On a shared machine that oversubscribes the cores: OpenMP
threads wait for one another at every parallel region, and a busy 2-core machine took 170-187 s for one seed that
ran in 11 s on one thread. So every place that runs models picks its count here:

- the *budget*: ``--threads N`` where a command has the flag, else ``$AARLAB_THREADS``, else the free cores
  (CPU affinity and cgroup quota, less the cores other processes keep busy);
- the *share*: a process running ``workers`` model processes at once gives each ``budget // workers`` (at least 1).

:func:`use_threads` applies a count to torch and exports it (``AARLAB_THREADS`` and the OpenMP/MKL/OpenBLAS
variables), so children of that process stay within it; a parent that starts several model processes at once
divides its budget with :func:`pick_threads` (``workers=``) or hands each child :func:`thread_env` of its share.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

#: The environment variable holding the thread budget of a process and its children (``--threads`` wins).
THREADS_ENV = "AARLAB_THREADS"
#: The variables torch's OpenMP, MKL and OpenBLAS read at start: a child's own torch obeys them from import on.
LIBRARY_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
PROC_LOADAVG = Path("/proc/loadavg")


def _affinity_cores() -> int:
    """CPUs this process may be scheduled on (``os.cpu_count()`` where the platform has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _v2_quota(text: str) -> float | None:
    """Cores granted by a cgroup v2 ``cpu.max`` line (``"200000 100000"`` is 2.0; ``"max 100000"`` no limit)."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    quota, period = int(parts[0]), int(parts[1])
    return quota / period if quota > 0 and period > 0 else None


def _v1_quota(folder: Path) -> float | None:
    """Cores granted by a cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` pair (quota -1: no limit)."""
    quota, period = (int((folder / name).read_text()) for name in ("cpu.cfs_quota_us", "cpu.cfs_period_us"))
    return quota / period if quota > 0 and period > 0 else None


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """This process's cgroup path per hierarchy: ``""`` for v2, the controller list (e.g. ``cpu,cpuacct``) for v1."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return {}
    own: dict[str, str] = {}
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            own[parts[1]] = parts[2]
    return own


def _quota_folders(root: Path, own: str) -> list[Path]:
    """``root`` and every folder from it down to the process's own cgroup ``own`` (a limit anywhere applies)."""
    folders = [root]
    for part in Path(own).parts[1:]:
        folders.append(folders[-1] / part)
    return folders


def cgroup_cores(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The tightest CPU quota of this process's cgroups, in cores (None: no quota, or no cgroup files to read).

    Reads cgroup v2 ``cpu.max`` and cgroup v1 ``cpu/cpu.cfs_quota_us`` over ``cpu.cfs_period_us``, at the mount
    root (a container's own cgroup) and along the process's path from ``/proc/self/cgroup``.
    """
    own = _own_cgroups(proc_cgroup)
    quotas: list[float | None] = []
    for folder in _quota_folders(root, own.get("", "/")):
        if (folder / "cpu.max").is_file():
            quotas.append(_v2_quota((folder / "cpu.max").read_text()))
    v1_own = next((path for names, path in own.items() if "cpu" in names.split(",")), "/")
    for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        for folder in _quota_folders(root / mount, v1_own):
            if (folder / "cpu.cfs_quota_us").is_file() and (folder / "cpu.cfs_period_us").is_file():
                quotas.append(_v1_quota(folder))
    found = [q for q in quotas if q is not None]
    return min(found) if found else None


def usable_cores(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """Cores this process can use: its CPU affinity, capped by its cgroup quota (rounded down), at least 1."""
    cores = _affinity_cores()
    quota = cgroup_cores(root, proc_cgroup)
    if quota is not None:
        cores = min(cores, math.floor(quota))
    return max(1, cores)


def busy_cores(loadavg: Path = PROC_LOADAVG, samples: int = 5, interval_s: float = 0.01) -> int:
    """Cores other processes keep busy: the 1-minute load average, or the processes runnable right now (besides
    this one) if more -- the load average lags a minute behind experiments started together.

    The runnable count is the smallest of ``samples`` readings, so a process that only flickers by is not counted.
    Without ``/proc/loadavg`` (not Linux) it is ``os.getloadavg()``, or 0.
    """
    try:
        readings = []
        for i in range(samples):
            fields = loadavg.read_text().split()
            readings.append(int(fields[3].split("/")[0]) - 1)  # "3/180": 3 runnable, this reader among them
            if i + 1 < samples:
                time.sleep(interval_s)
        return max(round(float(fields[0])), min(readings), 0)
    except (OSError, IndexError, ValueError):
        try:
            return round(os.getloadavg()[0])
        except OSError:
            return 0


def free_cores() -> int:
    """Usable cores not kept busy by other processes, at least 1 (see :func:`usable_cores`, :func:`busy_cores`)."""
    return max(1, usable_cores() - busy_cores())


def env_threads() -> int | None:
    """``$AARLAB_THREADS`` as a count (None when unset or empty); ValueError naming the variable when not one."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{THREADS_ENV} must be a whole number of threads >= 1; found {text!r} (unset it to use "
                         "the free cores, or pass --threads N)")
    return value


def pick_threads(workers: int = 1, explicit: int | None = None) -> int:
    """Threads for each of ``workers`` model processes running at once: the budget (``explicit``, else
    ``$AARLAB_THREADS``, else :func:`free_cores`) divided among them, at least 1 each."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1; found {workers}")
    if explicit is not None and explicit < 1:
        raise ValueError(f"threads must be >= 1; found {explicit}")
    budget = explicit or env_threads() or free_cores()
    return max(1, budget // workers)


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that hold a child process (its torch, OpenMP, MKL, OpenBLAS) to ``threads``."""
    return {name: str(threads) for name in (THREADS_ENV, *LIBRARY_ENV)}


def use_threads(threads: int) -> int:
    """Make this process use ``threads`` CPU threads (torch intra-op, and inter-op while torch still allows it)
    and export :func:`thread_env` so the children it starts stay within them; returns ``threads``."""
    import torch

    torch.set_num_threads(threads)
    # torch allows setting the inter-op pool only before its first inter-op work and raises after. Eager CPU
    # training does none (the pool serves torch.jit.fork), so a process past that point keeps its idle pool.
    if torch.get_num_interop_threads() != threads:
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(threads)
    os.environ.update(thread_env(threads))
    return threads


@contextlib.contextmanager
def threads_restored() -> Iterator[None]:
    """Give the process back its torch intra-op thread count and its thread environment (:func:`thread_env`'s
    variables, unset ones unset again) on leaving, whatever :func:`use_threads` did inside."""
    import torch

    saved_env = {name: os.environ.get(name) for name in thread_env(1)}
    saved_threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(saved_threads)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
