"""``campaign run --cluster``: checks made before anything is written, and the publication of the shared state.

Order matters for "fail fast, leave nothing half-started": the storage is probed (a write, read and delete) and the
cluster joined and asked whether any node can hold one agent's request *before* the campaign dir is touched. Only
then is the campaign set up as on one machine, and its suite models, visible data and agent set-ups are published to
the storage for the nodes. Ground truth never leaves the head: the server's state dir is not published.
"""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aarlab.campaign._state import CampaignError, CampaignInfo, ClusterSettings

_MEMORY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "KIB": 2**10, "M": 1e6, "MB": 1e6, "MIB": 2**20, "G": 1e9, "GB": 1e9,
          "GIB": 2**30, "T": 1e12, "TB": 1e12, "TIB": 2**40}


def parse_memory(text: str, flag: str = "--agent-memory") -> float:
    """``"4GiB"``, ``"512MB"``, ``"2e9"``... as bytes; :class:`CampaignError` (naming ``flag``) on anything else."""
    match = _MEMORY.match(text)
    if match is None:
        try:
            value = float(text)
        except ValueError:
            raise CampaignError(f"{flag} {text!r}: expected bytes or a size like 4GiB, 512MB") from None
        if value <= 0:
            raise CampaignError(f"{flag} {text!r}: must be positive")
        return value
    value = float(match.group(1)) * _UNITS[(match.group(2) or "").upper()]
    if value <= 0:
        raise CampaignError(f"{flag} {text!r}: must be positive")
    return value


def parse_resources(items: list[str], what: str = "agent") -> dict[str, float]:
    """``NAME=AMOUNT`` pairs (``--agent-resource``, ``--experiment-resource``) as a dict; :class:`CampaignError`
    naming a bad one."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, amount = item.partition("=")
        name = name.strip()
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]*", name) or value <= 0:
            raise CampaignError(f"--{what}-resource {item!r}: expected NAME=AMOUNT with a positive amount, e.g. "
                                "gpu_node=1")
        if name in ("CPU", "GPU", "memory"):
            raise CampaignError(f"--{what}-resource {item!r}: use --{what}-cpus/--{what}-gpus/--{what}-memory for "
                                f"{name}")
        out[name] = value
    return out


@dataclass
class ClusterOptions:
    """What ``campaign run --cluster`` was given."""

    address: str
    storage: str | None = None
    cpus: float = 1.0
    gpus: float = 0.0
    memory: float | None = None
    resources: dict[str, float] = field(default_factory=dict)
    service_host: str | None = None
    service_port: int | None = None
    checkpoint_s: float = 15.0
    node_dir: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: What one experiment asks for when an agent fans its seeds out as Ray tasks (CPU, GPU, memory, custom).
    experiment: dict[str, float] = field(default_factory=lambda: {"CPU": 1.0})


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, 0))
        except OSError as err:
            raise CampaignError(f"--service-host {host}: cannot listen there ({err.strerror}); give an address of "
                                "this machine that the cluster's nodes can reach") from None
        return int(sock.getsockname()[1])


def check_cluster(state: Path, options: ClusterOptions, server: str | None = None) -> ClusterSettings:
    """Probe the storage, join the cluster and check the request; the settings the campaign will run with.

    With ``server`` (an existing service) the agents reach it at that URL. Writes nothing under ``state``;
    :class:`CampaignError` naming the problem otherwise.
    """
    from aarlab.cluster import Storage, StorageError
    from aarlab.cluster._ray import ClusterError, check_fits, connect, disconnect, resource_request

    _check_tls(options, server)
    storage_url = options.storage or (state / "storage").as_uri()
    if options.storage is not None:  # the default directory is made with the campaign dir
        try:
            Storage(storage_url).check()
        except StorageError as err:
            raise CampaignError(f"--storage: {err}") from None
    request = resource_request(options.cpus, options.memory, options.gpus, options.resources)
    try:
        connect(options.address)
        check_fits(request)
        check_fits(options.experiment, "experiment")
        if server is not None:
            if not server.startswith(("http://", "https://")):
                raise ClusterError(f"--server {server}: agents on other nodes need a TCP address (http(s)://host:port)")
            service_url = server.rstrip("/")
        else:
            host = options.service_host or _service_host(options.address)
            shown = f"[{host}]" if ":" in host else host
            scheme = "https" if options.tls_cert is not None else "http"
            free = _free_port(host)  # also checks that the service can listen on that host at all
            service_url = f"{scheme}://{shown}:{options.service_port or free}"
    except (ClusterError, CampaignError) as err:
        disconnect()  # nothing left started: an in-process cluster stops, a remote one is left as it was
        raise CampaignError(str(err)) from None
    return ClusterSettings(address=options.address, storage=storage_url,
                           campaign_id=f"{state.name}-{uuid.uuid4().hex[:8]}", service_url=service_url,
                           request=request, experiment_request=options.experiment,
                           checkpoint_s=options.checkpoint_s, node_dir=options.node_dir,
                           tls_cert=str(options.tls_cert) if options.tls_cert else None,
                           tls_key=str(options.tls_key) if options.tls_key else None)


def _check_tls(options: ClusterOptions, server: str | None) -> None:
    """Both TLS files or neither, readable PEM, and only for the campaign's own service."""
    if (options.tls_cert is None) != (options.tls_key is None):
        raise CampaignError("give --tls-cert and --tls-key together")
    if options.tls_cert is None or options.tls_key is None:
        return
    if server is not None:
        raise CampaignError("--tls-cert/--tls-key are for the campaign's own service; --server has its own TLS")
    for flag, path in (("--tls-cert", options.tls_cert), ("--tls-key", options.tls_key)):
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise CampaignError(f"{flag} {path}: cannot read it ({err})") from None
        if "-----BEGIN " not in text:
            raise CampaignError(f"{flag} {path}: not a PEM file")


def _service_host(address: str) -> str:
    """Where the scoring service listens for the nodes: loopback for an in-process cluster, else this machine's
    address as Ray sees it."""
    if address == "local":
        return "127.0.0.1"
    import ray

    return str(ray.util.get_node_ip_address())


def publish(state: Path, info: CampaignInfo) -> None:
    """Store the suite's models, the visible data and every agent's set-up for the nodes."""
    from aarlab.cluster import CampaignStore, Storage, StorageError
    from aarlab.suites import load_suite

    assert info.cluster is not None
    store = CampaignStore(Storage(info.cluster.storage), info.cluster.campaign_id)
    try:
        store.publish(state, load_suite(info.suite, Path(info.home)).root, [a.name for a in info.agents])
    except StorageError as err:
        raise CampaignError(f"publishing the campaign to its storage failed: {err}") from None
