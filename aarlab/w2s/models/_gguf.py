"""Converting a GGUF checkpoint (possibly quantized) into a plain float Hugging Face model directory.

transformers reads GGUF files and de-quantizes them on load, but that takes about a minute for Gemma-3-270M. The
converted directory (``config.json`` + ``model.safetensors`` + tokenizer files) then loads in seconds through the
ordinary :func:`load_causal_lm` path, and every later stage is keyed by its content hash.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aarlab.w2s.models._load import _DTYPES, ModelLoadError, quiet_transformers


def convert_gguf(gguf_path: Path | str, out_dir: Path | str, *, dtype: str = "float32") -> Path:
    """Write ``gguf_path`` as a float model directory at ``out_dir`` (atomically: a temp dir, then a rename).

    The model is rebuilt from its config without any ``quantization_config``, so the saved checkpoint is a
    plain float model that needs no GGUF support to load.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.is_file():
        raise ModelLoadError(f"GGUF file {gguf_path} does not exist")
    if dtype not in _DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; expected one of {sorted(_DTYPES)}")
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"cannot read GGUF file {gguf_path}: {err}") from None
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = dtype
    model = AutoModelForCausalLM.from_config(config, dtype=_DTYPES[dtype])
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    tied = {k for k in missing if "lm_head" in k and getattr(config, "tie_word_embeddings", False)}
    if set(missing) - tied or unexpected:
        raise ModelLoadError(f"{gguf_path}: GGUF weights do not match the model built from its config "
                             f"(missing {sorted(set(missing) - tied)[:3]}, unexpected {sorted(unexpected)[:3]})")
    del quantized
    tmp = out_dir.parent / f".{out_dir.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir
