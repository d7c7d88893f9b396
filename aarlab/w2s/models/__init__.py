"""Loading causal LMs (hub id or local path) and reading them as label-token classifiers."""

from aarlab.w2s.models._available import is_path_ref, model_problem
from aarlab.w2s.models._classifier import LabelTokenHead, causal_lm_of, label_token_ids, render_prompt
from aarlab.w2s.models._gguf import convert_gguf
from aarlab.w2s.models._load import (
    LoadedModel,
    ModelLoadError,
    load_causal_lm,
    load_encoder,
    quiet_transformers,
    resolve_device,
)

__all__ = [
    "LabelTokenHead",
    "LoadedModel",
    "ModelLoadError",
    "causal_lm_of",
    "convert_gguf",
    "is_path_ref",
    "label_token_ids",
    "load_causal_lm",
    "load_encoder",
    "model_problem",
    "render_prompt",
    "quiet_transformers",
    "resolve_device",
]
