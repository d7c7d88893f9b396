"""Whether a model reference can be loaded, answered before any training: a local directory, the Hugging Face cache,
or (online only) one question to the hub.

A run that trains a weak teacher for minutes and then cannot load its strong model wastes those minutes; a run
offline without ``HF_HUB_OFFLINE`` also prints a screen of connection retries first. The check here reads the cache
without network access, and asks the hub (one request, no retries) only when the model is not cached and hub access
is on; the download itself stays with ``from_pretrained``.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Files holding weights; one of them (and every shard an index names) must be cached for an offline load.
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def is_path_ref(ref: str) -> bool:
    """Whether ``ref`` names a local directory (existing, or spelled as a path) rather than a hub id."""
    return Path(ref).expanduser().is_dir() or ref.startswith((".", "/", "~")) or ref.count("/") > 1


def _missing_weights(folder: Path) -> str | None:
    """What a cached snapshot lacks for an offline load (config, weights, shards), or None when complete."""
    if not (folder / "config.json").is_file():
        return "config.json"
    if any((folder / name).is_file() for name in _WEIGHTS):
        return None
    for index in _INDEXES:
        if (folder / index).is_file():
            try:
                shards = set(json.loads((folder / index).read_text())["weight_map"].values())
            except (OSError, ValueError, KeyError, AttributeError):
                return f"a readable {index}"
            missing = sorted(s for s in shards if not (folder / s).is_file())
            return f"weight shard(s) {', '.join(missing[:3])}" if missing else None
    return f"weights ({' or '.join(_WEIGHTS)})"


def _fetch_hint(ref: str) -> str:
    return (f"On a machine with hub access run `hf download {ref}` and copy its Hugging Face cache here (or set "
            "HF_HOME to a cache that has it), or name a local model directory in a copy of the suite file")


def _cached_snapshot(ref: str, cache_dir: Path | None) -> Path | None:
    """The cached snapshot folder of hub id ``ref`` (default revision), without network access; None if absent."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(ref, local_files_only=True, cache_dir=cache_dir))
    except LocalEntryNotFoundError:
        return None


def _hub_problem(ref: str) -> str | None:
    """Ask the hub once whether ``ref`` exists and is readable (no retries); None when it is."""
    from huggingface_hub import model_info
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        model_info(ref, timeout=15)
    except GatedRepoError:
        return (f"model {ref!r} is gated on the Hugging Face hub: accept its licence on the hub and log in "
                "(`hf auth login`), or name a local model directory")
    except RepositoryNotFoundError:
        return f"model {ref!r} does not exist on the Hugging Face hub (or is private); check the name in the suite file"
    except Exception as err:  # noqa: BLE001 - any network or HTTP failure becomes the message, with its cause
        first = (str(err).splitlines() or [type(err).__name__])[0]
        return (f"model {ref!r} is not in the Hugging Face cache and the hub could not be reached "
                f"({type(err).__name__}: {first}). {_fetch_hint(ref)}")
    return None


def model_problem(ref: str, *, offline: bool | None = None, cache_dir: Path | None = None) -> str | None:
    """Why ``ref`` (hub id or local directory) could not be loaded now, or None when it can.

    ``offline`` defaults to the hub library's setting (``HF_HUB_OFFLINE``); ``cache_dir`` to its cache. Online, a
    model missing from the cache is looked up on the hub (one request); a partly cached one is left to download.
    """
    from huggingface_hub import constants
    from huggingface_hub.errors import HFValidationError

    local = Path(ref).expanduser()
    if is_path_ref(ref):
        if not local.is_dir():
            return f"model directory {ref!r} does not exist (expected a directory with config.json)"
        missing = _missing_weights(local)
        return f"model directory {ref!r} has no {missing}" if missing else None
    offline = constants.HF_HUB_OFFLINE if offline is None else offline
    try:
        folder = _cached_snapshot(ref, cache_dir)
    except HFValidationError as err:
        return f"model {ref!r} is neither a local directory nor a valid Hugging Face hub id ({err})"
    where = cache_dir or constants.HF_HUB_CACHE
    if folder is not None:
        missing = _missing_weights(folder)
        if missing is None or not offline:
            return None  # online, from_pretrained fetches what is missing
        return (f"model {ref!r} is only partly in the Hugging Face cache ({folder} has no {missing}) and hub access "
                f"is off (HF_HUB_OFFLINE). {_fetch_hint(ref)}")
    if offline:
        return (f"model {ref!r} is not in the Hugging Face cache ({where}) and hub access is off (HF_HUB_OFFLINE). "
                f"{_fetch_hint(ref)}")
    return _hub_problem(ref)
