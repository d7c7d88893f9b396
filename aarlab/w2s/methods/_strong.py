"""The handle on the strong model that methods receive: train / predict / zero_shot / features.

Every ``train`` starts from the pretrained weights (a fresh copy), so methods can train several students.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from aarlab.w2s.data import Example, TaskKind, format_prompt, format_zero_shot_prompt
from aarlab.w2s.models import LabelTokenHead, LoadedModel
from aarlab.w2s.train import Loss, TrainConfig, apply_lora, extract_features, fine_tune, predict_proba
from aarlab.w2s.train._inference import Predictor

Targets = Mapping[str, float] | Sequence[float] | np.ndarray


def prompts_of(examples: Sequence[Example]) -> list[str]:
    """Classification prompts of examples, in order."""
    return [format_prompt(e) for e in examples]


def fresh_head(
    loaded: LoadedModel, kind: TaskKind, config: TrainConfig, *, copy_weights: bool = True, seed: int = 0
) -> LabelTokenHead:
    """A classifier over a fresh copy of the pretrained weights (wrapped in LoRA when ``config.mode`` says so).

    ``seed`` fixes the LoRA adapter's initial weights.
    """
    model: torch.nn.Module = copy.deepcopy(loaded.model) if copy_weights else loaded.model
    if copy_weights and config.mode == "lora":
        model = apply_lora(model, config, seed)
    same_base = not copy_weights or config.mode == "lora"
    return LabelTokenHead(model, loaded.tokenizer, kind, chat_template=loaded.uses_chat_template,
                          max_length=config.max_length, ref=loaded.ref if same_base else None)


class Student:
    """A fine-tuned copy of the strong model."""

    def __init__(self, head: LabelTokenHead, batch_size: int, predictor: Predictor = predict_proba) -> None:
        self._head = head
        self._batch_size = batch_size
        self._predictor = predictor

    def predict(self, examples: Sequence[Example]) -> dict[str, float]:
        """P(positive: True / B) per example id."""
        probs = self._predictor(self._head, prompts_of(examples), self._batch_size)
        return {e.id: float(p) for e, p in zip(examples, probs, strict=True)}

    def features(self, examples: Sequence[Example], layer: int = -1) -> np.ndarray:
        """Hidden states at the label position: [n, hidden]."""
        return extract_features(self._head, prompts_of(examples), layer, self._batch_size)


class StrongModel:
    """What a method may do with the strong model (fine-tune lane). It holds no labels."""

    lane = "finetune"

    def __init__(
        self,
        loaded: LoadedModel,
        kind: TaskKind,
        config: TrainConfig,
        feature_layer: int = -1,
        progress: Callable[[int, int], None] | None = None,
        predictor: Predictor = predict_proba,
    ) -> None:
        self._loaded = loaded
        self._predictor = predictor
        self.kind = kind
        self.config = config
        self.feature_layer = feature_layer
        self._progress = progress

    def _frozen_head(self) -> LabelTokenHead:
        return fresh_head(self._loaded, self.kind, self.config, copy_weights=False)

    def train(
        self,
        examples: Sequence[Example],
        targets: Targets,
        *,
        seed: int,
        loss: Loss | None = None,
        weights: Sequence[float] | np.ndarray | None = None,
        **overrides: object,
    ) -> Student:
        """Fine-tune a fresh copy on ``targets`` (P(positive), by id or in order) and return it.

        ``overrides`` replace fields of the suite's training config (e.g. ``epochs=1``, ``lr=1e-4``).
        """
        config = self.config.with_overrides(**overrides) if overrides else self.config
        if isinstance(targets, Mapping):
            missing = [e.id for e in examples if e.id not in targets]
            if missing:
                raise KeyError(f"no target for {len(missing)} training examples, e.g. {missing[:3]}")
            target_list = [float(targets[e.id]) for e in examples]
        else:
            target_list = [float(t) for t in targets]
        head = fresh_head(self._loaded, self.kind, config, seed=seed)
        fine_tune(head, prompts_of(examples), target_list, config, seed, loss=loss, weights=weights,
                  progress=self._progress)
        return Student(head, config.eval_batch_size, self._predictor)

    def zero_shot(self, examples: Sequence[Example], *, claim: bool = False) -> dict[str, float]:
        """The untrained strong model's P(positive) from label-token logits (``claim=True``: judge-a-claim prompt)."""
        head = self._frozen_head()
        fmt = format_zero_shot_prompt if claim else format_prompt
        probs = self._predictor(head, [fmt(e) for e in examples], self.config.eval_batch_size)
        return {e.id: float(p) for e, p in zip(examples, probs, strict=True)}

    def features(self, examples: Sequence[Example], layer: int | None = None) -> np.ndarray:
        """Frozen hidden states of the untrained model at the label position: [n, hidden] (probe lane)."""
        head = self._frozen_head()
        return extract_features(head, prompts_of(examples), self.feature_layer if layer is None else layer,
                                self.config.eval_batch_size)
