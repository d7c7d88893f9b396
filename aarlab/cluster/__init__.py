"""Campaigns across machines: agents as Ray actors, shared state in fsspec storage (see docs/deployment.md)."""

from aarlab.cluster._host import AgentHost, HostSpec
from aarlab.cluster._storage import PackReport, Storage, StorageError, pack_tree, unpack_tree
from aarlab.cluster._store import CampaignStore


def __getattr__(name: str) -> object:
    """The Ray side (``connect``, ``launch``, ...) is imported on first use: Ray is optional."""
    if name in ("ClusterError", "check_fits", "connect", "disconnect", "launch", "resource_request"):
        from aarlab.cluster import _ray

        return getattr(_ray, name)
    raise AttributeError(name)


__all__ = [
    "AgentHost",
    "CampaignStore",
    "ClusterError",
    "HostSpec",
    "PackReport",
    "Storage",
    "StorageError",
    "check_fits",
    "connect",
    "disconnect",
    "launch",
    "pack_tree",
    "resource_request",
    "unpack_tree",
]
