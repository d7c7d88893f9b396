"""The backbone's final hidden state at the last position only, computed without the last layer's other positions.

Classification (label-token logits) and the tiny suite's pretraining (a loss on the final token) read one position
of the last layer. Every earlier layer must run over the whole prompt (the last position attends to all of them),
but in the last layer only the keys and values need every position: its queries, attention output, MLP and the
final norm are needed at the last position alone. Skipping the rest is exact (same function, same gradients, up to
float rounding; tested against the library's forward) and saves most of one layer: on the tiny suite's 3-layer
models ~19% of a pretraining step, on a 36-layer Qwen3 ~2%.

Only for decoder families whose layers have the plain pre-norm form this file rebuilds (Qwen3, Qwen2, Llama), with
``sdpa`` attention and no sliding window; :func:`last_position_hidden` returns ``None`` for anything else and the
caller runs the library's forward.
"""

from __future__ import annotations

import sys
from typing import Any

import torch

_SUPPORTED = ("Qwen3Model", "Qwen2Model", "LlamaModel")


def supports_last_position(backbone: torch.nn.Module) -> bool:
    """Whether :func:`last_position_hidden` can run ``backbone`` (the ``*Model`` inside a ``*ForCausalLM``)."""
    config = getattr(backbone, "config", None)
    if type(backbone).__name__ not in _SUPPORTED or config is None:
        return False
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    layer_types = getattr(config, "layer_types", None) or ["full_attention"]
    return all(t == "full_attention" for t in layer_types) and len(getattr(backbone, "layers", ())) > 0


def _attention_mask(mask: torch.Tensor) -> torch.Tensor:
    """Causal and padding mask for sdpa, [batch, 1, T, T] (True = may attend). A padding position attends to
    itself only, so no row is empty; nothing downstream reads a padding position."""
    t = mask.shape[-1]
    causal = torch.ones(t, t, dtype=torch.bool, device=mask.device).tril()
    eye = torch.eye(t, dtype=torch.bool, device=mask.device)
    return (causal[None, None] & mask.bool()[:, None, None, :]) | eye[None, None]


def _last_layer(layer: Any, hidden: torch.Tensor, key_mask: torch.Tensor,
                cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The decoder layer's output at the last position, [batch, 1, hidden]."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    apply_rotary_pos_emb = sys.modules[type(layer).__module__].apply_rotary_pos_emb  # the family's own
    attn = layer.self_attn
    batch, length = hidden.shape[:2]
    x = layer.input_layernorm(hidden)
    q = attn.q_proj(x[:, -1:]).view(batch, 1, -1, attn.head_dim)
    k = attn.k_proj(x).view(batch, length, -1, attn.head_dim)
    if hasattr(attn, "q_norm"):  # Qwen3 normalises queries and keys per head
        q, k = attn.q_norm(q), attn.k_norm(k)
    q, k = q.transpose(1, 2), k.transpose(1, 2)
    v = attn.v_proj(x).view(batch, length, -1, attn.head_dim).transpose(1, 2)
    q, _ = apply_rotary_pos_emb(q, q, cos[:, -1:], sin[:, -1:])
    _, k = apply_rotary_pos_emb(k, k, cos, sin)
    out, _ = sdpa_attention_forward(attn, q, k, v, key_mask, dropout=attn.attention_dropout if attn.training else 0.0,
                                    scaling=attn.scaling, is_causal=False)
    residual = hidden[:, -1:] + attn.o_proj(out.reshape(batch, 1, -1))
    return residual + layer.mlp(layer.post_attention_layernorm(residual))


def last_position_hidden(backbone: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         position_ids: torch.Tensor | None = None) -> torch.Tensor | None:
    """The final (normed) hidden state at the last position of a left-padded batch, [batch, hidden]; ``None`` when
    ``backbone`` is not one this file can run (see :func:`supports_last_position`)."""
    if not supports_last_position(backbone):
        return None
    model: Any = backbone
    if position_ids is None:
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    hidden = model.embed_tokens(input_ids)
    cos, sin = model.rotary_emb(hidden, position_ids)
    full = _attention_mask(attention_mask)
    *body, last = model.layers
    for layer in body:
        hidden = layer(hidden, attention_mask=full, position_embeddings=(cos, sin), position_ids=position_ids)
    hidden = _last_layer(last, hidden, attention_mask.bool()[:, None, None, :], cos, sin)
    return model.norm(hidden)[:, 0]
