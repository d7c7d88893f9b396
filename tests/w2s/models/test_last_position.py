"""The last-position forward computes exactly what the library's forward computes at the last position."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

from aarlab.w2s.models import LabelTokenHead
from aarlab.w2s.models._last_position import last_position_hidden, supports_last_position
from aarlab.w2s.train import TrainConfig, apply_lora

_SIZES = dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0)


def _model(family: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if family == "qwen3":
        return Qwen3ForCausalLM(Qwen3Config(**_SIZES, head_dim=8))
    if family == "qwen2":  # biases on q, k, v
        return Qwen2ForCausalLM(Qwen2Config(**_SIZES))
    return LlamaForCausalLM(LlamaConfig(**_SIZES))


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-padded, three lengths (one row unpadded, one a single token)."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 50, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, :4] = 0
    mask[2, :8] = 0
    ids[mask == 0] = 0
    return ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)


def _reference(model: torch.nn.Module, ids, mask, pos) -> torch.Tensor:
    return model.model(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state[:, -1]


@pytest.mark.parametrize("family", ["qwen3", "qwen2", "llama"])
def test_same_hidden_state_and_gradients_as_the_library_forward(family: str) -> None:
    model = _model(family)
    model.train()
    ids, mask, pos = _batch()
    assert supports_last_position(model.model)
    ours = last_position_hidden(model.model, ids, mask, pos)
    ref = _reference(model, ids, mask, pos)
    assert ours is not None and ours.shape == ref.shape == (3, 32)
    assert torch.allclose(ours, ref, atol=1e-5)

    grads = []
    for hidden in (ours, ref):
        model.zero_grad()
        (hidden * torch.linspace(-1, 1, 32)).sum().backward(retain_graph=True)
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name, grad in grads[0].items():
        assert torch.allclose(grad, grads[1][name], atol=1e-5), name


def test_a_row_does_not_depend_on_the_padding_beside_it() -> None:
    model = _model("qwen3").eval()
    ids, mask, pos = _batch()
    with torch.no_grad():
        together = last_position_hidden(model.model, ids, mask, pos)
        alone = last_position_hidden(model.model, ids[2:, -1:], mask[2:, -1:])
    assert together is not None and alone is not None
    assert torch.allclose(together[2], alone[0], atol=1e-5)


def test_other_families_and_settings_fall_back_to_the_library() -> None:
    eager = _model("qwen3")
    eager.config._attn_implementation = "eager"
    sliding = Qwen3ForCausalLM(Qwen3Config(**_SIZES, head_dim=8, use_sliding_window=True, sliding_window=4,
                                           max_window_layers=1))
    gemma = Gemma3ForCausalLM(Gemma3TextConfig(**_SIZES, head_dim=8))
    ids, mask, pos = _batch()
    for model in (eager, sliding, gemma):
        assert not supports_last_position(model.model)
        assert last_position_hidden(model.model, ids, mask, pos) is None


class _Tokenizer:
    """Just enough of a tokenizer for LabelTokenHead: one token per word."""

    def __init__(self) -> None:
        self.words = ["<pad>", " False", " True", *[f" w{i}" for i in range(47)]]
        self.truncation_side = "right"

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [self.words.index(text)]


def test_the_classifier_head_reads_the_same_logits_with_lora() -> None:
    model = _model("qwen3")
    lora = apply_lora(model, TrainConfig(mode="lora", lora_r=4))
    head = LabelTokenHead(lora, _Tokenizer(), "binary")  # type: ignore[arg-type]
    ids, mask, pos = _batch()
    batch = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
    with torch.no_grad():
        for p in lora.parameters():  # LoRA's B starts at zero: move it so the adapters count
            if p.requires_grad:
                p.add_(0.05)
        full = lora.base_model.model(**batch).logits[:, -1][:, head.label_ids]
        assert torch.allclose(head.logits(batch), full, atol=1e-5)
