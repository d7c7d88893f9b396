"""The campaign supervisor: the scoring service and one process per agent, a concurrency limit, one restart per
crashed agent (its study resumes), a clean stop on Ctrl-C, and ``campaign.json`` kept current."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from aarlab._threads import pick_threads, thread_env
from aarlab.campaign._external import SocketForwarder, link_socket
from aarlab.campaign._llm import check_model
from aarlab.campaign._setup import assignment_file, server_dir
from aarlab.campaign._state import (
    OFFLINE_KINDS,
    UNFINISHED,
    AgentAssignment,
    CampaignError,
    CampaignInfo,
    load_campaign,
    now,
    save_campaign,
)

#: Restarts granted to an agent process that exits with an error.
MAX_RESTARTS = 1
#: Cluster campaigns: times an agent is started on another node after losing its node.
MAX_MOVES = 5
#: Seconds past the deadline after which agents still running are stopped.
GRACE_S = 60.0


def socket_path(state: Path) -> Path:
    """The scoring service's Unix socket of a campaign."""
    return state / "scoring.sock"


def _stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it does not exit in time."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def agent_module(kind: str) -> str:
    """The module an agent process runs: an offline researcher (search, evolve), or the LLM runtime for a model."""
    return OFFLINE_KINDS.get(kind, "aarlab.agents.runtime")


class ScoringServer:
    """``aarlab server start`` as a child process serving only the campaign's Unix socket."""

    def __init__(self, state: Path, info: CampaignInfo, budget_settings: dict[str, float]) -> None:
        self.state = state
        self.info = info
        self.settings = budget_settings
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server and wait until it answers on the socket."""
        config = self.state / "server.toml"
        config.write_text("".join(f"{k} = {v}\n" for k, v in self.settings.items()))
        sock = socket_path(self.state)
        sock.unlink(missing_ok=True)
        (self.state / "logs").mkdir(exist_ok=True)
        self._log = open(self.state / "logs" / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        argv = [sys.executable, "-m", "aarlab", "server", "start", "--state", str(server_dir(self.state)),
                "--suite", self.info.suite, "--home", self.info.home, "--config", str(config)]
        cluster = self.info.cluster
        tls = cluster is not None and cluster.tls_cert is not None
        if not tls:  # TLS is served on every socket of the server: then the head checks it over TCP
            argv += ["--uds", str(sock)]
        if cluster is not None:  # agents on every node reach it over TCP
            from urllib.parse import urlsplit

            url = urlsplit(cluster.service_url)
            argv += ["--host", str(url.hostname), "--port", str(url.port)]
            if cluster.tls_cert and cluster.tls_key:
                argv += ["--tls-cert", cluster.tls_cert, "--tls-key", cluster.tls_key]
        elif self.info.dashboard_port is not None:
            argv += ["--host", "127.0.0.1", "--port", str(self.info.dashboard_port)]
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.info.server_pid = self.process.pid
        save_campaign(self.state, self.info)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CampaignError(f"the scoring service exited with {self.process.returncode}; see "
                                    f"{self.state / 'logs' / 'server.log'}")
            if self._answers(sock, tls):
                return
            time.sleep(0.1)
        self.stop()
        where = self.info.cluster.service_url if tls and self.info.cluster else sock
        raise CampaignError(f"the scoring service did not answer on {where} within {timeout_s:.0f} s; see "
                            f"{self.state / 'logs' / 'server.log'}")

    def _answers(self, sock: Path, tls: bool) -> bool:
        """Whether the service answers: on its Unix socket, or (TLS) on its HTTPS port, certificate checked."""
        import ssl

        import httpx

        try:
            if tls and self.info.cluster is not None and self.info.cluster.tls_cert:
                context = ssl.create_default_context()
                context.load_verify_locations(cafile=self.info.cluster.tls_cert)
                with httpx.Client(verify=context, timeout=2) as client:
                    return client.get(f"{self.info.cluster.service_url}/openapi.json").status_code == 200
            if not sock.exists():
                return False
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=2) as client:
                return client.get("http://aarlab/openapi.json").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM: uvicorn shuts down cleanly)."""
        if self.process is not None:
            _stop(self.process)
            info = load_campaign(self.state)
            info.server_pid = None
            save_campaign(self.state, info)
        if self._log is not None:
            self._log.close()
            self._log = None


class _LocalAgent:
    """An agent process on this machine."""

    def __init__(self, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        self.process = process
        self.log = log

    def poll(self) -> tuple[str, int | None]:
        code = self.process.poll()
        return ("running", None) if code is None else ("exited", code)

    def placed(self) -> str | None:
        return None

    @property
    def error(self) -> str | None:
        return None

    def stop(self) -> int | None:
        _stop(self.process)
        return self.process.returncode

    def close(self) -> None:
        self.log.close()


class Supervisor:
    """Runs the unfinished agents of a campaign until they are done; ``on_tick`` is called about once a second.

    On one machine each agent is a process; with ``info.cluster`` each is a Ray actor on some node
    (:mod:`aarlab.cluster`), its files mirrored back from the campaign storage, and an agent whose node is lost is
    started again on another node from its last checkpoint (a *move*, not one of its restarts).
    """

    def __init__(self, state: Path, on_tick: Callable[[CampaignInfo], None] = lambda _i: None,
                 log: Callable[[str], None] = lambda _m: None) -> None:
        self.state = state
        self.info = load_campaign(state)
        self.on_tick = on_tick
        self.log = log
        self.processes: dict[str, Any] = {}
        #: CPU threads of each agent's experiments: the cores divided among the agents that run at once (on a
        #: cluster: the CPUs an agent asks for).
        if self.info.cluster is not None:
            self.threads = max(1, int(self.info.cluster.request.get("CPU", 1)))
        else:
            self.threads = pick_threads(workers=max(1, min(self.info.concurrency, len(self.info.agents))))
        self._store: Any = None
        self._mirrored_at = 0.0

    def _save(self) -> None:
        save_campaign(self.state, self.info)

    def _cluster_store(self) -> Any:
        if self._store is None:
            from aarlab.cluster import CampaignStore, Storage

            assert self.info.cluster is not None
            self._store = CampaignStore(Storage(self.info.cluster.storage), self.info.cluster.campaign_id)
        return self._store

    def _launch(self, name: str) -> None:
        record = self.info.agent(name)
        if self.info.cluster is not None:
            from aarlab.cluster import HostSpec
            from aarlab.cluster._fanout import FANOUT_ENV, FanoutSpec
            from aarlab.cluster._ray import gcs_address, launch

            cluster = self.info.cluster
            fanout = FanoutSpec(address=gcs_address(), storage_url=cluster.storage, campaign_id=cluster.campaign_id,
                                suite=self.info.suite, request=cluster.experiment_request,
                                threads=max(1, int(cluster.experiment_request.get("CPU", 1))),
                                node_dir=cluster.node_dir)
            self._cluster_store().publish_setup(self.state, name)  # a resume's new deadline
            spec = HostSpec(name=name, agent_kind=self.info.agent_kind, suite=self.info.suite,
                            storage_url=cluster.storage, campaign_id=cluster.campaign_id,
                            service_url=cluster.service_url, threads=self.threads,
                            checkpoint_s=cluster.checkpoint_s, node_dir=cluster.node_dir,
                            ca_pem=Path(cluster.tls_cert).read_text() if cluster.tls_cert else None,
                            env={FANOUT_ENV: fanout.to_env()})
            self.processes[name] = launch(spec, cluster.request)
            record.state, record.pid = "running", None
        else:
            log = open(self.state / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - closed when the process ends
            argv = [sys.executable, "-m", agent_module(self.info.agent_kind), "--state", str(self.state),
                    "--agent", name]
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                       env={**os.environ, **thread_env(self.threads)})
            self.processes[name] = _LocalAgent(process, log)
            record.state, record.pid = "running", process.pid
        self._save()

    def _mirror(self, names: list[str], force: bool = False) -> None:
        """Cluster campaigns: copy the agents' latest checkpoints here (every few seconds, and when one ends)."""
        if self.info.cluster is None or not names or (not force and time.monotonic() - self._mirrored_at < 5):
            return
        from aarlab.cluster import StorageError

        self._mirrored_at = time.monotonic()
        for name in names:
            try:
                self._cluster_store().mirror(self.state, name)
            except StorageError as err:
                self.log(f"{name}: its checkpoint could not be read back ({err}); will retry")

    def _reap(self, name: str, outcome: str, code: int | None) -> None:
        handle = self.processes.pop(name)
        handle.close()  # the log file; on a cluster, the actor and the resources it holds
        self._mirror([name], force=True)
        record = self.info.agent(name)
        record.pid = None
        if outcome == "lost":
            if record.moves < MAX_MOVES and now() < self.info.deadline:
                record.moves += 1
                record.state = "pending"
                self.log(f"{name}: its node {record.node or '?'} was lost; starting it on another node from its "
                         f"last checkpoint (move {record.moves})")
            else:
                record.state = "crashed"
                self.log(f"{name}: its node was lost and it has moved {record.moves} times; not moving it again")
            self._save()
            return
        record.exit_code = code
        if handle.error:
            self.log(f"{name} failed on its node: {handle.error}")
        if code == 0:
            record.state = "done"
        elif record.restarts < MAX_RESTARTS and now() < self.info.deadline:
            record.restarts += 1
            record.state = "pending"  # relaunched with resume below
            self.log(f"{name} exited with {code}; restarting it (restart {record.restarts} of {MAX_RESTARTS})")
        else:
            record.state = "crashed"
            self.log(f"{name} exited with {code}; not restarting (see logs/{name}.log)")
        self._save()

    def run(self) -> CampaignInfo:
        """Supervise until every agent is done or crashed; on Ctrl-C stop them all and mark them ``stopped``."""
        (self.state / "logs").mkdir(exist_ok=True)
        try:
            while True:
                for name, handle in list(self.processes.items()):
                    outcome, code = handle.poll()
                    if outcome != "running":
                        self._reap(name, outcome, code)
                    elif (node := handle.placed()) and self.info.agent(name).node != node:
                        self.info.agent(name).node = node
                        self._save()
                self._mirror(list(self.processes))
                pending = [a.name for a in self.info.agents if a.state == "pending"]
                for name in pending[: max(0, self.info.concurrency - len(self.processes))]:
                    self._launch(name)
                if not self.processes and not any(a.state == "pending" for a in self.info.agents):
                    break
                if now() > self.info.deadline + GRACE_S:
                    self.log("deadline passed; stopping the agents still running")
                    self._stop_all()
                self.on_tick(self.info)
                time.sleep(1.0)
            self.info.ended_at = now()
            self._save()
        except KeyboardInterrupt:
            self.log("interrupted: stopping agents (resume with `aarlab campaign resume`)")
            self._stop_all()
            self.info.stopped_at = now()
            self._save()
            raise
        return self.info

    def _stop_all(self) -> None:
        """Stop every running agent and mark it ``stopped`` (``campaign resume`` continues it)."""
        for name, handle in list(self.processes.items()):
            code = handle.stop()
            self.processes.pop(name)
            handle.close()
            self._mirror([name], force=True)
            record = self.info.agent(name)
            record.state, record.pid, record.exit_code = "stopped", None, code
        self._save()


def _ours(pid: int, state: Path) -> bool:
    """Whether ``pid`` is still a process of this campaign (its command line names the state dir)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(str(state).encode() in part for part in cmdline)


def _stop_leftovers(state: Path, info: CampaignInfo) -> None:
    """Stop the agent and server processes a killed supervisor left running (so resume does not run two copies)."""
    pids = [a.pid for a in info.agents if a.pid is not None] + ([info.server_pid] if info.server_pid else [])
    for pid in pids:
        if not _ours(pid, state):
            continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + 10
            while _ours(pid, state) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not _ours(pid, state):
                break
    for record in info.agents:
        if record.state == "running":
            record.state = "stopped"
        record.pid = None
    info.server_pid = None


def prepare_resume(state: Path, minutes: float | None) -> CampaignInfo:
    """Give the unfinished agents of a stopped campaign a new deadline (the time it had left, or ``minutes``)."""
    info = load_campaign(state)
    if info.agent_kind not in OFFLINE_KINDS:
        check_model(info.agent_kind)
    _stop_leftovers(state, info)
    unfinished = [a for a in info.agents if a.state in UNFINISHED]
    if not unfinished:
        raise CampaignError(f"every agent of {state} is done; start a new campaign with `aarlab campaign run`")
    stopped = info.stopped_at or now()
    left = minutes * 60 if minutes is not None else max(0.0, info.deadline - stopped)
    if left <= 5:
        raise CampaignError("the campaign has no time left; give more with `aarlab campaign resume --minutes M`")
    info.deadline = now() + left
    info.stopped_at = None
    info.ended_at = None
    for record in unfinished:
        record.state = "pending"
        record.restarts = 0
        path = assignment_file(state, record.name)
        assignment = AgentAssignment.model_validate_json(path.read_text())
        path.write_text(assignment.model_copy(update={"deadline": info.deadline}).model_dump_json(indent=2))
    save_campaign(state, info)
    return info


def server_settings(budget: int, ladder_bits: float | None = None) -> dict[str, float]:
    """Server settings of a campaign: the agents' budget, rate limits loose enough for a few local agents, and the
    Ladder's information budget when the campaign sets one (``--ladder-bits``)."""
    settings: dict[str, float] = {"default_budget": budget, "rate_per_s": 20, "rate_burst": 50}
    if ladder_bits is not None:
        settings["ladder_bits"] = ladder_bits
    return settings


class ExternalService:
    """An existing scoring service made reachable at ``DIR/scoring.sock`` (a symlink, or a forwarder for TCP)."""

    def __init__(self, state: Path, url: str) -> None:
        self.state = state
        self.url = url
        self._forwarder: SocketForwarder | None = None

    def start(self) -> None:
        """Make the socket answer; :class:`CampaignError` when the service cannot be reached."""
        import httpx

        sock = socket_path(self.state)
        if self.url.startswith("unix://"):
            link_socket(sock, self.url)
        else:
            self._forwarder = SocketForwarder(sock, self.url)
            self._forwarder.start()
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=5) as client:
                client.get("http://aarlab/openapi.json").raise_for_status()
        except httpx.HTTPError as err:
            self.stop()
            raise CampaignError(f"the scoring service at {self.url} does not answer ({err})") from None

    def stop(self) -> None:
        """Stop forwarding (a symlink stays: it points at a socket the service owns)."""
        if self._forwarder is not None:
            self._forwarder.stop()
            self._forwarder = None


def supervise(state: Path, on_tick: Callable[[CampaignInfo], None],
              log: Callable[[str], None]) -> CampaignInfo:
    """Start (or connect to) the scoring service, run the agents, stop the service (also on Ctrl-C or an error)."""
    info = load_campaign(state)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _supervise_with_service(state, info, on_tick, log)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, _frame: object) -> None:
    """SIGTERM stops a campaign as Ctrl-C does: agents stopped and marked for ``campaign resume``."""
    raise KeyboardInterrupt(f"signal {signum}")


def _supervise_with_service(state: Path, info: CampaignInfo, on_tick: Callable[[CampaignInfo], None],
                            log: Callable[[str], None]) -> CampaignInfo:
    service: ScoringServer | ExternalService
    if info.server is not None:
        service = ExternalService(state, info.server)
    else:
        service = ScoringServer(state, info, server_settings(info.budget, info.ladder_bits))
    if info.cluster is not None:
        from aarlab.cluster._ray import ClusterError, connect

        try:
            log(connect(info.cluster.address))
        except ClusterError as err:
            raise CampaignError(str(err)) from None
    service.start()
    if info.dashboard_port is not None:
        log(f"dashboard: http://127.0.0.1:{info.dashboard_port}/ (log in with the admin token: `aarlab server "
            f"admin-token --state {server_dir(state)}`)")
    try:
        info = Supervisor(state, on_tick, log).run()
        queue_promotions(state, log)
        return info
    finally:
        service.stop()
        if info.cluster is not None:
            from aarlab.cluster._ray import disconnect

            disconnect()


def queue_promotions(state: Path, log: Callable[[str], None]) -> list[str]:
    """At the campaign's end, queue the promotion of each agent's best submission per dataset (cheap: the re-runs
    take minutes each, so they run only when asked: ``aarlab promote --queued --state STATE``)."""
    from aarlab.campaign._promote import PromotionError
    from aarlab.campaign._promote_queue import enqueue_best
    from aarlab.server._state import StateError

    if not (server_dir(state) / "state.json").is_file():  # an external scoring service keeps its own queue
        return []
    try:
        queued = enqueue_best(server_dir(state), log)
    except (PromotionError, StateError) as err:
        log(f"promotions not queued: {err}")
        return []
    if queued:
        log(f"{len(queued)} promotion(s) queued; run them with `aarlab promote --queued --state {state}`")
    return queued
