"""Write a tiny Qwen3 model as a GGUF file (with the ``gguf`` package), as llama.cpp tools would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def tiny_qwen3(seed: int = 0) -> torch.nn.Module:
    """A random 2-layer Qwen3 causal LM over a byte-level vocabulary (256 bytes + one merged token).

    head_dim is 128 because transformers reads Qwen3 GGUF files with the Qwen3 default (the file has no field).
    """
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(vocab_size=257, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=128, max_position_embeddings=64,
                         tie_word_embeddings=False, rms_norm_eps=1e-6, rope_theta=10000.0, bos_token_id=0,
                         eos_token_id=1)
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():  # norms are initialised to 1; make them informative so a mix-up would show
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
    return model.eval()


def write_gguf(model: torch.nn.Module, path: Path, *, quantize: str | None = "Q8_0") -> Path:
    """Write ``model`` (from :func:`tiny_qwen3`) to ``path``; 2-D weights quantized to ``quantize`` if given."""
    import gguf
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    config = model.config
    writer = gguf.GGUFWriter(str(path), "qwen3")
    writer.add_name("tiny-qwen3")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_key_length(config.head_dim)
    writer.add_value_length(config.head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(10000.0)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([*bytes_to_unicode().values(), "ĠT"])
    writer.add_token_types([gguf.TokenType.NORMAL] * 257)
    writer.add_token_scores([0.0] * 257)
    writer.add_token_merges(["Ġ T"])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN3, config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise KeyError(f"no GGUF name for {name}")
        data = tensor.float().numpy()
        if quantize and data.ndim == 2 and data.shape[1] % 32 == 0:
            kind = getattr(gguf.GGMLQuantizationType, quantize)
            writer.add_tensor(target, gguf.quants.quantize(data, kind), raw_dtype=kind)
        else:
            writer.add_tensor(target, np.ascontiguousarray(data, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
