"""Campaign agents as Ray actors: connecting to a cluster (failing fast), checking that a resource request fits
some node, launching / polling / stopping agents on whichever node Ray places them, and an agent's experiments
fanned out as Ray tasks (:class:`RayFanout`).

Ray is imported only here and only when a campaign runs with ``--cluster``: a single-machine campaign never needs it.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import Any

from aarlab.cluster._fanout import ExperimentJob, FanoutSpec, JobResult, run_job
from aarlab.cluster._host import AgentHost, HostSpec

#: Seconds the TCP pre-check waits for a cluster's head before saying it cannot be reached (``ray.init`` itself
#: retries for minutes against an address that does not answer).
CONNECT_TIMEOUT_S = 5.0


class ClusterError(RuntimeError):
    """The cluster cannot be used as asked (unreachable, no node fits the request, Ray missing)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError("--cluster needs Ray: pip install 'aarlab[cluster]' (or ray==2.60.0)") from None
    return ray


def _reachable(address: str) -> None:
    """:class:`ClusterError` unless something accepts TCP connections at ``host:port`` (``ray://`` allowed)."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ClusterError(f"--cluster {address!r}: expected HOST:PORT of a Ray head (e.g. 10.0.0.5:6379), "
                           "ray://HOST:PORT, 'auto' (the cluster this machine joined) or 'local'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as err:
        raise ClusterError(f"--cluster {address}: no Ray head answers there ({err.strerror or err}); start one "
                           f"with `ray start --head --port {port}` or check the address") from None


def connect(address: str) -> str:
    """Connect this process to the Ray cluster at ``address`` (``local``: start one in-process); returns a line
    describing it."""
    ray = _ray()
    if ray.is_initialized():
        return _describe(ray)
    kwargs: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False, "namespace": "aarlab",
                              "configure_logging": True}
    if address == "local":
        ray.init(address="local", include_dashboard=False, **kwargs)  # a new one, never a cluster found on disk
    else:
        if address != "auto":
            _reachable(address)
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ClusterError(f"--cluster {address}: cannot join the Ray cluster: {err}") from None
    return _describe(ray)


def _live_nodes(ray: Any) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def _describe(ray: Any) -> str:
    nodes = _live_nodes(ray)
    return f"Ray cluster: {len(nodes)} node(s), {ray.cluster_resources().get('CPU', 0):g} CPUs"


def disconnect() -> None:
    """Leave the cluster (stops an in-process ``local`` one)."""
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()


def resource_request(cpus: float, memory_bytes: float | None, gpus: float,
                     custom: dict[str, float]) -> dict[str, float]:
    """One agent's request in Ray's resource names (``CPU``, ``GPU``, ``memory`` in bytes, custom names)."""
    request: dict[str, float] = {"CPU": float(cpus)}
    if gpus:
        request["GPU"] = float(gpus)
    if memory_bytes:
        request["memory"] = float(memory_bytes)
    request.update({k: float(v) for k, v in custom.items()})
    return request


def check_fits(request: dict[str, float], what: str = "agent") -> None:
    """:class:`ClusterError` naming the resource when no live node could ever hold one ``what``'s ``request``
    (``what``: ``agent`` or ``experiment``, which also names the flags to change)."""
    nodes = _live_nodes(_ray())
    if not nodes:
        raise ClusterError("the Ray cluster has no live node")
    if any(all(n["Resources"].get(k, 0.0) >= v for k, v in request.items()) for n in nodes):
        return
    short = []
    for key, amount in request.items():
        best = max(n["Resources"].get(key, 0.0) for n in nodes)
        if best < amount:
            short.append(f"{key}={amount:g} (largest on any node: {best:g})")
    detail = "; ".join(short) or "no single node has all of them at once"
    flags = "/".join(f"--{what}-{k}" for k in ("cpus", "gpus", "memory", "resource"))
    raise ClusterError(f"no node of the Ray cluster can hold one {what}'s request {request}: {detail}. Lower the "
                       f"{flags} request or add nodes")


_REMOTE_HOST: Any = None


def _remote_host() -> Any:
    """``AgentHost`` as a Ray actor class (two threads: ``run`` blocks while ``stop`` may arrive)."""
    global _REMOTE_HOST
    if _REMOTE_HOST is None:
        ray = _ray()

        class RayAgentHost(AgentHost):
            def node(self) -> str:
                return _node_name(ray)

        _REMOTE_HOST = ray.remote(max_restarts=0, max_task_retries=0, max_concurrency=2)(RayAgentHost)
    return _REMOTE_HOST


@dataclass
class RayAgent:
    """A launched agent: its actor, the pending result of ``run`` and the node it landed on."""

    actor: Any
    result: Any
    node_ref: Any = None
    node: str | None = None
    #: Why the host failed on its node (before or around the agent process), for the supervisor's log.
    error: str | None = None

    def placed(self) -> str | None:
        """The node it runs on once Ray has placed it (``ip/node-id``), else None."""
        if self.node is None and self.node_ref is not None:
            ray = _ray()
            ready, _ = ray.wait([self.node_ref], timeout=0)
            if ready:
                with contextlib.suppress(ray.exceptions.RayError):
                    self.node = str(ray.get(self.node_ref))
                self.node_ref = None
        return self.node

    def poll(self) -> tuple[str, int | None]:
        """``("running", None)``, ``("exited", code)``, or ``("lost", None)`` when its node or actor died."""
        ray = _ray()
        ready, _ = ray.wait([self.result], timeout=0)
        if not ready:
            return "running", None
        try:
            return "exited", int(ray.get(self.result))
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError, ray.exceptions.OwnerDiedError):
            return "lost", None
        except ray.exceptions.RayTaskError as err:  # the host raised (a storage error, a bad set-up): a crash
            cause = err.cause if isinstance(getattr(err, "cause", None), BaseException) else err
            self.error = f"{type(cause).__name__}: {cause}".splitlines()[0][:500]
            return "exited", 1

    def close(self) -> None:
        """Release the actor (and the resources it holds, a GPU say) once its agent has ended."""
        ray = _ray()
        with contextlib.suppress(ray.exceptions.RayError):
            ray.kill(self.actor, no_restart=True)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Stop the agent and wait for its last checkpoint; kill the actor if it does not finish in time."""
        ray = _ray()
        with contextlib.suppress(ray.exceptions.RayError):
            self.actor.stop.remote()
        code: int | None = None
        with contextlib.suppress(ray.exceptions.RayError):
            code = int(ray.get(self.result, timeout=timeout_s))
        with contextlib.suppress(ray.exceptions.RayError):
            ray.kill(self.actor, no_restart=True)
        return code


def _placement(request: dict[str, float]) -> dict[str, Any]:
    """Ray ``.options()`` asking for ``request``; SPREAD: agents (and an agent's seeds) go to different nodes while
    they can (each wants a machine's cores or GPU to itself)."""
    options: dict[str, Any] = {"num_cpus": request.get("CPU", 1.0), "scheduling_strategy": "SPREAD"}
    if "GPU" in request:
        options["num_gpus"] = request["GPU"]
    if "memory" in request:
        options["memory"] = request["memory"]
    custom = {k: v for k, v in request.items() if k not in ("CPU", "GPU", "memory")}
    if custom:
        options["resources"] = custom
    return options


def launch(spec: HostSpec, request: dict[str, float]) -> RayAgent:
    """Place agent ``spec.name`` on a node that has ``request`` free and start it."""
    actor = _remote_host().options(**_placement(request)).remote(spec)
    return RayAgent(actor=actor, result=actor.run.remote(), node_ref=actor.node.remote())


def gcs_address() -> str:
    """The address this process's cluster is reachable at from its nodes (what an agent's fan-out joins)."""
    return str(_ray().get_runtime_context().gcs_address)


def _node_name(ray: Any) -> str:
    return f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:8]}"


_REMOTE_JOB: Any = None
#: Seconds a fan-out waits beyond an experiment's own time limit for a node with the resources to free up.
SCHEDULE_SLACK_S = 300.0


def _remote_job() -> Any:
    """:func:`aarlab.cluster._fanout.run_job` as a Ray task (retried once when its node is lost)."""
    global _REMOTE_JOB
    if _REMOTE_JOB is None:
        ray = _ray()

        def run_experiment_job(spec: FanoutSpec, job: ExperimentJob, workspace: bytes) -> JobResult:
            return run_job(spec, job, workspace, _node_name(ray))

        _REMOTE_JOB = ray.remote(max_retries=1)(run_experiment_job)
    return _REMOTE_JOB


class RayFanout:
    """Runs each seed of an agent's experiment as a Ray task asking for the campaign's per-experiment resources
    (``spec.request``), in a sandbox on whichever node Ray places it."""

    def __init__(self, spec: FanoutSpec) -> None:
        self.spec = spec

    def run(self, jobs: list[ExperimentJob], workspace: bytes) -> list[JobResult]:
        """One result per job, in order; every task is started before the first is awaited."""
        import time

        def failed(job: ExperimentJob, why: str) -> JobResult:
            return JobResult(job.seed, -1, "", "", 0.0, error=why)

        try:
            ray = _ray()
            if not ray.is_initialized():  # once per agent process
                connect(self.spec.address)
        except Exception as err:  # noqa: BLE001 - whatever Ray raises, the agent hears why its seeds did not run
            return [failed(job, f"cannot reach the cluster at {self.spec.address}: {err}") for job in jobs]
        archive = ray.put(workspace)  # once for all seeds
        task = _remote_job().options(**_placement(self.spec.request))
        refs = [task.remote(self.spec, job, archive) for job in jobs]
        deadline = time.monotonic() + max(job.timeout_s for job in jobs) + SCHEDULE_SLACK_S
        results = []
        for job, ref in zip(jobs, refs, strict=True):
            try:
                results.append(ray.get(ref, timeout=max(1.0, deadline - time.monotonic())))
            except ray.exceptions.GetTimeoutError:
                with contextlib.suppress(ray.exceptions.RayError):
                    ray.cancel(ref, force=True)
                results.append(failed(job, f"not finished {SCHEDULE_SLACK_S:.0f} s past its time limit (no node "
                                           f"free with {self.spec.request}?); cancelled"))
            except ray.exceptions.RayError as err:
                cause = err.cause if isinstance(getattr(err, "cause", None), BaseException) else err
                first = f"{type(cause).__name__}: {cause}".splitlines()[0][:500]
                results.append(failed(job, f"the task failed on the cluster: {first}"))
        return results
