"""Classification through label-token logits of a causal LM, as in the reference system.

The prompt ends in ``Label:``; the next-token logits of the two label words (``False``/``True`` or ``A``/``B``) are
the class logits. Only those two rows of the output embedding are used -- full-vocabulary logits are never
computed, which matters for 150k-token vocabularies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from aarlab.w2s.data import LABEL_WORDS, TaskKind
from aarlab.w2s.models._last_position import last_position_hidden

_EMPTY_THINK = re.compile(r"<think>\s*</think>\s*")


def label_token_ids(tokenizer: PreTrainedTokenizerBase, words: Sequence[str]) -> list[int]:
    """Token ids of label words as they follow ``Label:`` (with a leading space); each must be one token."""
    ids = []
    for word in words:
        encoded = tokenizer.encode(" " + word, add_special_tokens=False)
        if len(encoded) != 1:
            raise ValueError(f"label word {word!r} is {len(encoded)} tokens for this tokenizer; it must be one")
        ids.append(encoded[0])
    return ids


def render_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str, chat_template: bool) -> str:
    """The text fed to the model: raw for base models, the chat template (empty think block removed) for chat."""
    if not chat_template:
        return prompt
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    return _EMPTY_THINK.sub("", str(text))


def causal_lm_of(model: torch.nn.Module) -> PreTrainedModel:
    """The underlying ``*ForCausalLM`` module, also when wrapped by peft."""
    if hasattr(model, "peft_config"):
        return model.base_model.model  # type: ignore[union-attr,return-value]
    return model  # type: ignore[return-value]


class LabelTokenHead:
    """Turns a causal LM into a two-class classifier for one task kind.

    ``logits(batch)`` -> [batch, 2], index 1 = positive class (True / B). ``hidden(batch, layer)`` -> [batch, hidden]
    at the last prompt position.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        kind: TaskKind,
        *,
        chat_template: bool = False,
        max_length: int = 512,
        ref: str | None = None,
    ) -> None:
        #: Where the weights under any LoRA adapter can be loaded from (None once they diverge: full fine-tune);
        #: what a serving backend such as vLLM starts from.
        self.ref = ref
        self.model = model
        self.tokenizer = tokenizer
        self.kind = kind
        self.chat_template = chat_template
        self.max_length = max_length
        self.label_ids = label_token_ids(tokenizer, LABEL_WORDS[kind])

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live."""
        return next(self.model.parameters()).device

    def encode(self, prompts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Left-padded token batch with position ids that ignore padding."""
        texts = [render_prompt(self.tokenizer, p, self.chat_template) for p in prompts]
        # A prompt longer than max_length loses its beginning, never its end: the label is read at the last token.
        side, self.tokenizer.truncation_side = self.tokenizer.truncation_side, "left"
        try:
            enc = self.tokenizer(
                texts,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
                add_special_tokens=not self.chat_template,
            )
        finally:
            self.tokenizer.truncation_side = side
        mask = enc["attention_mask"]
        return {
            "input_ids": enc["input_ids"].to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": (mask.cumsum(-1) - 1).clamp(min=0).to(self.device),
        }

    def _backbone_output(self, batch: dict[str, torch.Tensor], hidden_states: bool = False) -> object:
        lm = causal_lm_of(self.model)
        return lm.model(**batch, output_hidden_states=hidden_states)  # type: ignore[operator]

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Label-token logits at the last position: [batch, 2] (float32)."""
        backbone = causal_lm_of(self.model).model
        last = last_position_hidden(backbone, batch["input_ids"], batch["attention_mask"], batch.get("position_ids"))
        if last is None:  # a family the last-position forward does not know: every position
            last = self._backbone_output(batch).last_hidden_state[:, -1]  # type: ignore[attr-defined]
        head = causal_lm_of(self.model).get_output_embeddings()
        weight = head.weight[self.label_ids]  # [2, hidden]
        logits = last @ weight.T
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias[self.label_ids]
        return logits.float()

    def hidden(self, batch: dict[str, torch.Tensor], layer: int) -> torch.Tensor:
        """Hidden state of ``layer`` (0 = embeddings, -1 = last) at the last position: [batch, hidden]."""
        out = self._backbone_output(batch, hidden_states=True)
        return out.hidden_states[layer][:, -1].float()  # type: ignore[attr-defined]
