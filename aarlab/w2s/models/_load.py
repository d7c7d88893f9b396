"""Loading a causal LM and its tokenizer from a Hugging Face hub id or a local directory (one code path)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from aarlab.w2s.models._available import is_path_ref

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message names it and says how to make it available."""


@dataclass(frozen=True)
class LoadedModel:
    """A causal LM with its tokenizer (left padding) and where it came from."""

    ref: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    uses_chat_template: bool


def quiet_transformers() -> None:
    """Silence transformers' per-load progress bars and info logs (aarlab draws its own progress)."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def resolve_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_causal_lm(
    ref: str,
    *,
    dtype: str = "float32",
    device: str | None = None,
    chat_template: bool = False,
    revision: str | None = None,
) -> LoadedModel:
    """Load ``ref`` (hub id like ``Qwen/Qwen3-4B-Base`` or a local directory) for classification.

    Raises :class:`ModelLoadError` with a fix-it message when the model is neither a local directory nor
    reachable (e.g. offline without a cached copy).
    """
    quiet_transformers()
    if dtype not in _DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; expected one of {sorted(_DTYPES)}")
    local = Path(ref).expanduser()
    source = str(local) if local.is_dir() else ref
    if not local.is_dir() and is_path_ref(ref):
        raise ModelLoadError(f"model path {ref!r} does not exist (expected a directory with config.json)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(source, revision=revision, dtype=_DTYPES[dtype])
    except OSError as err:
        raise ModelLoadError(
            f"could not load model {ref!r}: {err.__class__.__name__}: {str(err).splitlines()[0]}\n"
            f"It is not a local directory and not in the Hugging Face cache. On a machine with hub access run "
            f"`hf download {ref}` (or set HF_HOME to a cache that has it), or pass a local path."
        ) from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(resolve_device(device))  # type: ignore[arg-type]  # transformers' stub types .to() narrowly
    model.eval()
    if chat_template and not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"model {ref!r} was configured with chat_template=true but its tokenizer has none")
    return LoadedModel(ref=ref, model=model, tokenizer=tokenizer, uses_chat_template=chat_template)


def load_encoder(ref: str, *, dtype: str = "float32", device: str | None = None) -> tuple[PreTrainedModel, Any]:
    """Load an encoder (e.g. a sentence embedder such as all-MiniLM-L6-v2) and its tokenizer, frozen, for features.

    Raises :class:`ModelLoadError` with a fix-it message when ``ref`` is neither a local directory nor cached.
    """
    from transformers import AutoModel

    quiet_transformers()
    if dtype not in _DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; expected one of {sorted(_DTYPES)}")
    local = Path(ref).expanduser()
    if not local.is_dir() and is_path_ref(ref):
        raise ModelLoadError(f"encoder path {ref!r} does not exist (expected a directory with config.json)")
    source = str(local) if local.is_dir() else ref
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModel.from_pretrained(source, dtype=_DTYPES[dtype])
    except OSError as err:
        raise ModelLoadError(
            f"could not load encoder {ref!r}: {str(err).splitlines()[0]}\nPass a local directory, or on a machine "
            f"with hub access run `hf download {ref}`."
        ) from None
    model.to(resolve_device(device))  # type: ignore[arg-type]  # transformers' stub types .to() narrowly
    model.eval()
    return model, tokenizer
