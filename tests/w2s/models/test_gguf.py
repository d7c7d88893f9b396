"""GGUF -> float safetensors conversion, on a tiny Qwen3 written to GGUF (Q8_0) the way llama.cpp tools write it."""

import json
from pathlib import Path

import pytest
import torch

from aarlab.w2s.models import ModelLoadError, convert_gguf, load_causal_lm
from tests.w2s.models.gguf_fixture import tiny_qwen3, write_gguf


def test_a_quantized_gguf_converts_to_a_float_model_with_the_same_outputs(tmp_path: Path) -> None:
    original = tiny_qwen3()
    out = convert_gguf(write_gguf(original, tmp_path / "tiny.gguf"), tmp_path / "hf")
    assert (out / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    loaded = load_causal_lm(str(out))
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    with torch.no_grad():
        expected, found = original(ids).logits, loaded.model(ids).logits
    assert torch.allclose(expected, found, atol=0.05)  # Q8_0 rounding only
    assert not torch.allclose(expected, torch.zeros_like(expected), atol=0.05)
    assert loaded.tokenizer.decode(loaded.tokenizer.encode("hi There", add_special_tokens=False)) == "hi There"


def test_a_missing_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="GGUF file .*nope.gguf does not exist"):
        convert_gguf(tmp_path / "nope.gguf", tmp_path / "out")
