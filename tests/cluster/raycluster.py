"""A real multi-node Ray cluster on loopback for tests: ``ray start --head`` and worker nodes, each a ``--block``
process in a session of its own, so a node is killed (all its processes) with one ``killpg``."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


class RayUnavailable(RuntimeError):
    """Ray is not installed or the cluster did not come up."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_bin() -> str:
    path = Path(sys.executable).parent / "ray"
    if not path.exists():
        raise RayUnavailable("Ray is not installed in this environment (pip install 'aarlab[cluster]')")
    return str(path)


@dataclass
class RayCluster:
    """A running cluster: its address and its nodes by name (``head`` and the workers)."""

    address: str
    logs: Path
    #: The cluster's token (Ray's token authentication): every node and every client gets it as RAY_AUTH_TOKEN.
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    #: Environment every node starts with (e.g. the storage's credentials, as a deployment gives its nodes).
    node_env: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_node(self, name: str, cpus: float, resources: dict[str, float], head: bool = False) -> None:
        argv = [_ray_bin(), "start", "--block", f"--num-cpus={cpus:g}", f"--resources={json.dumps(resources)}",
                "--disable-usage-stats"]
        if head:
            port = self.address.rsplit(":", 1)[1]
            argv += ["--head", f"--port={port}", "--include-dashboard=false"]
        else:
            argv += [f"--address={self.address}"]
        env = {**self.env(), "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
               "RAY_raylet_start_wait_time_s": "120"}
        self.nodes[name] = subprocess.Popen(argv, stdout=(self.logs / f"{name}.log").open("ab"),
                                            stderr=subprocess.STDOUT, start_new_session=True, env=env)

    def env(self) -> dict[str, str]:
        """This environment plus the cluster's token: for a process that joins the cluster."""
        return {**os.environ, **self.node_env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    def node_ids(self) -> dict[str, str]:
        """Custom resource name -> node id, as the cluster reports its live nodes."""
        code = (f"import json, ray; ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False); "
                "print(json.dumps([[n['NodeID'], n['Resources'], n['Alive']] for n in ray.nodes()]))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                             env=self.env())
        return {k: nid for nid, res, alive in json.loads(out.stdout.strip().splitlines()[-1]) if alive for k in res}

    def wait_nodes(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                alive = {v for v in self.node_ids().values()}
            except subprocess.CalledProcessError:
                alive = set()
            if len(alive) >= count:
                return
            if time.monotonic() > deadline:
                raise RayUnavailable(f"the Ray cluster did not reach {count} nodes (logs in {self.logs})")
            time.sleep(1)

    def kill(self, name: str) -> None:
        """Kill node ``name`` and every process of it (SIGKILL to its session)."""
        process = self.nodes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)

    def stop(self) -> None:
        for name in [n for n in self.nodes if n != "head"] + (["head"] if "head" in self.nodes else []):
            self.kill(name)


def start_cluster(logs: Path, workers: dict[str, tuple[float, dict[str, float]]],
                  node_env: dict[str, str] | None = None) -> RayCluster:
    """A head (1 CPU, resource ``head``) and ``workers`` (name -> (CPUs, custom resources)) on 127.0.0.1."""
    logs.mkdir(parents=True, exist_ok=True)
    cluster = RayCluster(address=f"127.0.0.1:{_free_port()}", logs=logs, node_env=dict(node_env or {}))
    try:
        cluster.start_node("head", 1, {"head": 1}, head=True)
        cluster.wait_nodes(1)
        for count, (name, (cpus, resources)) in enumerate(workers.items(), start=2):
            cluster.start_node(name, cpus, resources)  # one at a time: two raylets registering at once on a busy
            cluster.wait_nodes(count)                  # 2-core machine time out

    except BaseException:
        cluster.stop()
        raise
    return cluster
