"""Experiments fanned out across a cluster: the seeds of one ``w2s_run`` in parallel, each in a fresh bubblewrap
sandbox on whichever node has the campaign's per-experiment resources.

The agent's process (host side, on its node) packs the agent's workspace as an adversary may have left it
(regular files only, bounded, caches left out), and submits one task per seed. On the node that runs it, a task
restores the suite's ``models/`` and the visible data from the campaign's storage once per node and campaign (never
anything with labels), unpacks the workspace into a fresh directory, runs the trial runner in a sandbox that has no
scoring socket and no token, and returns the result and the predictions file. The agent's process writes those
back into its own workspace with the same guarded writes as its tools.

This module needs no Ray (it is tested without a cluster); :mod:`aarlab.cluster._ray` submits :func:`run_job` as a
Ray task.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aarlab.cluster._storage import Storage, StorageError, pack_tree, unpack_tree
from aarlab.cluster._store import CampaignStore

#: Environment variable through which a cluster campaign hands its agents' processes a :class:`FanoutSpec` (JSON).
FANOUT_ENV = "AARLAB_FANOUT"
#: Most seeds one ``w2s_run`` call may fan out.
MAX_SEEDS = 8
#: The workspace shipped with each task: per-file and whole-archive bounds (what does not fit is left out and said).
MAX_WORKSPACE_FILE = 64 * 2**20
MAX_WORKSPACE_BYTES = 256 * 2**20
#: Largest predictions file a task brings back.
MAX_PREDICTIONS_BYTES = 64 * 2**20
#: Workspace paths never shipped: the probe lane's feature cache is kept per node and agent (see :func:`run_job`).
WORKSPACE_EXCLUDE = (".cache",)


@dataclass(frozen=True)
class FanoutSpec:
    """Where an agent's experiments may run: the cluster, the campaign's storage and each task's resources."""

    address: str
    storage_url: str
    campaign_id: str
    suite: str
    request: dict[str, float]
    threads: int = 1
    storage_options: dict[str, Any] = field(default_factory=dict)
    node_dir: str | None = None

    def to_env(self) -> str:
        """The spec as the value of :data:`FANOUT_ENV`."""
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_env(value: str) -> FanoutSpec:
        """Parse :data:`FANOUT_ENV` (:class:`ValueError` naming the problem)."""
        try:
            data = json.loads(value)
            return FanoutSpec(**data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"${FANOUT_ENV} is not a fan-out spec: {err}") from None


@dataclass(frozen=True)
class ExperimentJob:
    """One seed of one experiment: the trial runner's arguments (without ``--home`` and ``--out``)."""

    agent: str
    dataset: str
    method: str
    seed: int
    out: str
    lane: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 600.0
    memory_mb: int = 8192


@dataclass
class JobResult:
    """What one task did on its node (``predictions`` is the file's bytes when it wrote one)."""

    seed: int
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    node: str = ""
    killed_reason: str | None = None
    limits_hit: list[str] = field(default_factory=list)
    predictions: bytes | None = None
    #: Why the task could not run the experiment at all (storage, sandbox set-up), else None.
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The experiment ran, exited 0 and wrote its predictions."""
        return self.error is None and self.exit_code == 0 and self.killed_reason is None \
            and self.predictions is not None


def pack_workspace(workspace: Path) -> tuple[bytes, list[str]]:
    """The archive every task of one call unpacks, and what was left out of it (links, FIFOs, oversized files)."""
    data, report = pack_tree(workspace, exclude=WORKSPACE_EXCLUDE, max_file_bytes=MAX_WORKSPACE_FILE,
                             max_bytes=MAX_WORKSPACE_BYTES)
    return data, report.skipped


@contextlib.contextmanager
def _locked(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_inputs(spec: FanoutSpec) -> tuple[Path, Path]:
    """This node's copy of the campaign's (home, visible data), restored from storage by the first task here."""
    base = Path(spec.node_dir or tempfile.gettempdir()) / "aarlab-experiments" / spec.campaign_id
    home, visible = base / "home", base / "visible"
    with _locked(base / ".lock"):
        if not (base / ".ready").is_file():
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(visible, ignore_errors=True)
            store = CampaignStore(Storage(spec.storage_url, spec.storage_options), spec.campaign_id)
            store.restore_shared(home / "suites" / spec.suite, visible)
            (base / ".ready").write_text("")
    return home, visible


#: The probe lane's feature cache inside a workspace (the trial runner's default, ``~/.cache/features``).
FEATURES = ".cache/features"


def _real_dir(path: Path) -> bool:
    """``path`` and its parent are directories, neither a symlink (an agent may have swapped either for one)."""
    import stat

    for part in (path.parent, path):
        try:
            if not stat.S_ISDIR(os.lstat(part).st_mode):
                return False
        except OSError:
            return False
    return True


def _copy_cache(source: Path, dest: Path, agent: str, base: Path) -> None:
    """Copy a feature cache between a task's workspace and this node's per-agent copy (label-free: features of the
    visible inputs), as agent-written files are copied everywhere: regular files only, bounded, links skipped."""
    if not _real_dir(source):
        return
    with _locked(base / f".features-{agent}.lock"):  # tasks of one agent may end together
        data, _ = pack_tree(source)
        with contextlib.suppress(StorageError):
            unpack_tree(data, dest)


def run_job(spec: FanoutSpec, job: ExperimentJob, workspace: bytes, node: str = "") -> JobResult:
    """Run one seed on this machine, in a fresh sandbox over a fresh copy of the workspace."""
    from aarlab._agentfiles import AgentFileTooLarge, UnsafeAgentFile, read_agent_file
    from aarlab._threads import thread_env
    from aarlab.agents.sandbox import BubblewrapSandbox, SandboxError, SandboxLimits
    from aarlab.agents.tools._sandboxed import trial_argv

    os.environ.update(thread_env(spec.threads))  # the sandbox gives its command this process's share
    try:
        home, visible = shared_inputs(spec)
    except (StorageError, OSError) as err:
        return JobResult(job.seed, -1, "", "", 0.0, node, error=f"cannot restore the campaign's inputs: {err}")
    base = home.parent
    work = Path(tempfile.mkdtemp(prefix=f"{job.agent}-s{job.seed}-", dir=base))
    try:
        root = work / "workspace"
        try:
            unpack_tree(workspace, root, max_bytes=MAX_WORKSPACE_BYTES)
        except StorageError as err:
            return JobResult(job.seed, -1, "", "", 0.0, node, error=str(err))
        cache = base / "features" / job.agent
        _copy_cache(cache, root / FEATURES, job.agent, base)
        models = home / "suites" / spec.suite / "models"
        try:
            sandbox = BubblewrapSandbox(root, visible_data=visible,
                                        limits=SandboxLimits(wall_s=job.timeout_s, memory_mb=job.memory_mb),
                                        extra_ro=[models] if models.is_dir() else [])
        except SandboxError as err:
            return JobResult(job.seed, -1, "", "", 0.0, node, error=f"no sandbox on this node: {err}")
        argv = trial_argv(method=job.method, suite=spec.suite, home=str(home), dataset=job.dataset, seed=job.seed,
                          overrides=job.overrides, lane=job.lane, out=job.out)
        try:
            result = sandbox.exec(argv, timeout_s=job.timeout_s)
        finally:
            sandbox.close()
        _copy_cache(root / FEATURES, cache, job.agent, base)
        predictions = None
        with contextlib.suppress(FileNotFoundError, AgentFileTooLarge, UnsafeAgentFile):
            predictions = read_agent_file(root, job.out, MAX_PREDICTIONS_BYTES)
        return JobResult(job.seed, result.exit_code, result.stdout, result.stderr, result.duration_s, node,
                         killed_reason=result.killed_reason, limits_hit=list(result.limits_hit),
                         predictions=predictions)
    finally:
        shutil.rmtree(work, ignore_errors=True)
