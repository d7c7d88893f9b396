"""Frozen features of a text: one hidden layer of a causal LM or an encoder, pooled to one vector per text.

* causal LM, ``pooling="last"``: the state at the last token (left padding), i.e. where the label would be read.
* ``pooling="mean"``: the mean over non-padding tokens (the standard sentence embedding for encoders).
* ``pooling="answer"``: the mean over the tokens of the answer only -- between the last ``\nAnswer: `` and the
  final ``\nLabel:`` of a classification prompt (the whole text when it has no such marker). For long shared
  questions (a HumanEval prompt) the question otherwise dominates a pooled feature.

Texts longer than ``max_length`` (or the model's positions) lose their *beginning*: the answer and the label
position at the end are what a feature must see.

For a middle layer of a causal LM only the layers up to it are run (a forward hook stops the pass there), which
halves the cost of layer 9 of 18.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aarlab.w2s.models import causal_lm_of, render_prompt

ProgressFn = Callable[[int, int], None]


class _Stop(Exception):
    """Raised by a forward hook once the wanted layer has produced its output."""


@dataclass
class FeatureExtractor:
    """A frozen model read as a text -> vector function. ``model`` is a ``*ForCausalLM`` or an encoder."""

    model: torch.nn.Module
    tokenizer: Any
    kind: str  # "causal_lm" | "encoder"
    layer: int
    pooling: str  # "last" | "mean" | "answer"
    max_length: int = 256
    chat_template: bool = False

    def _layers(self) -> torch.nn.ModuleList | None:
        if self.kind != "causal_lm":
            return None
        return getattr(causal_lm_of(self.model).model, "layers", None)  # type: ignore[union-attr]

    @torch.no_grad()
    def _batch(self, texts: Sequence[str]) -> np.ndarray:
        rendered = [render_prompt(self.tokenizer, t, self.chat_template) for t in texts]
        positions = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        limit = min(self.max_length, positions) if isinstance(positions, int) else self.max_length
        side, self.tokenizer.truncation_side = self.tokenizer.truncation_side, "left"  # shared with fine-tuning
        try:
            enc = self.tokenizer(rendered, return_tensors="pt", padding=True, truncation=True, max_length=limit,
                                 add_special_tokens=not self.chat_template,
                                 return_offsets_mapping=self.pooling == "answer")
        finally:
            self.tokenizer.truncation_side = side
        device = next(self.model.parameters()).device
        mask = enc["attention_mask"].to(device)  # [batch, seq]
        if self.pooling == "answer":
            mask_pool = _answer_mask(rendered, enc.pop("offset_mapping"), enc["attention_mask"]).to(device)
        inputs = {"input_ids": enc["input_ids"].to(device), "attention_mask": mask}
        layers = self._layers()
        if layers is not None:
            inputs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
            n_layers = len(layers)
            index = self.layer if self.layer >= 0 else n_layers + 1 + self.layer
            if 1 <= index < n_layers:
                states = self._run_until(layers[index - 1], inputs)
            else:
                out = causal_lm_of(self.model).model(**inputs, output_hidden_states=True)  # type: ignore[operator]
                states = out.hidden_states[index]
        else:
            out = self.model(**inputs, output_hidden_states=True)
            states = out.hidden_states[self.layer]  # [batch, seq, hidden]
        if self.pooling == "last":
            pooled = states[:, -1]
        else:
            pool = mask_pool if self.pooling == "answer" else mask
            weights = pool.unsqueeze(-1).to(states.dtype)  # [batch, seq, 1]
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
        return pooled.float().cpu().numpy()

    def _run_until(self, layer: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def hook(_module: torch.nn.Module, _args: object, output: object) -> None:
            captured.append(output[0] if isinstance(output, tuple) else output)  # type: ignore[arg-type]
            raise _Stop

        handle = layer.register_forward_hook(hook)
        try:
            causal_lm_of(self.model).model(**inputs)  # type: ignore[operator]
        except _Stop:
            pass
        finally:
            handle.remove()
        return captured[0]

    def __call__(self, texts: Sequence[str], batch_size: int = 32, progress: ProgressFn | None = None) -> np.ndarray:
        """Features of ``texts``: float32 [n, hidden]. Texts are batched by length to waste little on padding."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: np.ndarray | None = None
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            block = self._batch([texts[i] for i in idx])
            if out is None:
                out = np.zeros((len(texts), block.shape[1]), dtype=np.float32)
            out[idx] = block
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def answer_span(text: str) -> tuple[int, int]:
    """Character span of the answer in a classification prompt (the whole text when there is no marker)."""
    start = text.rfind("\nAnswer: ")
    if start < 0:
        return 0, len(text)
    end = text.rfind("\nLabel:")
    return start + len("\nAnswer: "), end if end > start else len(text)


def _answer_mask(texts: Sequence[str], offsets: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """[batch, seq] 1 on tokens inside each text's answer span (all tokens when the span holds none)."""
    out = torch.zeros_like(attention)
    for row, text in enumerate(texts):
        start, end = answer_span(text)
        begin, finish = offsets[row, :, 0], offsets[row, :, 1]
        inside = (attention[row] > 0) & (finish > begin) & (finish > start) & (begin < end)
        out[row] = inside if inside.any() else attention[row]
    return out


def load_extractor(path: str, *, kind: str, layer: int, pooling: str, dtype: str = "float32",
                   device: str | None = None, max_length: int = 256, chat_template: bool = False) -> FeatureExtractor:
    """Load a model (hub id or local directory) as a frozen feature extractor."""
    if kind == "causal_lm":
        from aarlab.w2s.models import load_causal_lm

        loaded = load_causal_lm(path, dtype=dtype, device=device, chat_template=chat_template)
        return FeatureExtractor(loaded.model, loaded.tokenizer, kind, layer, pooling, max_length, chat_template)
    from aarlab.w2s.models import load_encoder

    model, tokenizer = load_encoder(path, dtype=dtype, device=device)
    return FeatureExtractor(model, tokenizer, kind, layer, pooling, max_length)
