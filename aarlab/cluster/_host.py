"""One agent on a cluster node: a node-local campaign dir restored from storage, the scoring service reached over
TCP through a node-local Unix socket, the same agent process and sandbox as on one machine, checkpoints back.

Runs inside a Ray actor (:mod:`aarlab.cluster._ray`) but needs no Ray itself, so it is tested without a cluster.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aarlab.cluster._storage import Storage, StorageError
from aarlab.cluster._store import NODE_LOG, CampaignStore


@dataclass(frozen=True)
class HostSpec:
    """Everything a node needs to run one agent (no ground truth, no admin token)."""

    name: str
    agent_kind: str
    suite: str
    storage_url: str
    campaign_id: str
    service_url: str
    threads: int
    storage_options: dict[str, Any] = field(default_factory=dict)
    checkpoint_s: float = 15.0
    node_dir: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    #: PEM certificate(s) the node trusts for an ``https://`` service (the service's own, when self-signed).
    ca_pem: str | None = None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """New session (so the whole group can be stopped) and SIGKILL when the host dies (a node lost mid-run must
    not leave an agent submitting behind the restarted one)."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class AgentHost:
    """Runs agent ``spec.name`` on this machine until it exits or :meth:`stop` is called."""

    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.store = CampaignStore(Storage(spec.storage_url, spec.storage_options), spec.campaign_id)
        self.process: subprocess.Popen[bytes] | None = None
        self.workdir: Path | None = None

    def prepare(self) -> Path:
        """Restore the node-local campaign dir; returns its state dir (``WORKDIR/state``)."""
        from aarlab.campaign._state import AgentAssignment

        base = Path(self.spec.node_dir) if self.spec.node_dir else None
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"aarlab-{self.spec.name}-", dir=base))
        state, home = self.workdir / "state", self.workdir / "home"
        self.store.restore(state, home / "suites" / self.spec.suite, self.spec.name)
        path = state / "agents" / self.spec.name / "agent.json"
        assignment = AgentAssignment.model_validate_json(path.read_text())
        path.write_text(assignment.model_copy(update={"home": str(home)}).model_dump_json(indent=2))
        (state / "agents" / self.spec.name / "token").chmod(0o600)
        return state

    def run(self) -> int:
        """Run the agent to its end; returns its exit code (checkpoints every ``checkpoint_s`` and at the end)."""
        from aarlab._threads import thread_env
        from aarlab.campaign._external import SocketForwarder
        from aarlab.campaign._run import agent_module

        forwarder: SocketForwarder | None = None
        log: IO[bytes] | None = None
        try:
            state = self.prepare()
            forwarder = SocketForwarder(state / "scoring.sock", self.spec.service_url, cadata=self.spec.ca_pem)
            forwarder.start()
            log = open(state / "agents" / self.spec.name / NODE_LOG, "ab")  # noqa: SIM115 - closed below
            argv = [sys.executable, "-m", agent_module(self.spec.agent_kind), "--state", str(state),
                    "--agent", self.spec.name]
            env = {**os.environ, **thread_env(self.spec.threads), **self.spec.env}
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            preexec_fn=_die_with_parent)
            while True:
                try:
                    code = self.process.wait(self.spec.checkpoint_s)
                    break
                except subprocess.TimeoutExpired:
                    try:
                        self.store.checkpoint(state, self.spec.name)
                    except StorageError as err:  # a storage hiccup: the next checkpoint tries again
                        log.write(f"[host] checkpoint failed, will retry: {err}\n".encode())
                        log.flush()
            log.flush()
            self.store.checkpoint(state, self.spec.name)
            return code
        finally:
            self._terminate()
            if log is not None:
                log.close()
            if forwarder is not None:
                forwarder.stop()
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        """Stop the agent (SIGTERM to its group, SIGKILL after 15 s); :meth:`run` then checkpoints and returns."""
        self._terminate()
