"""Hyper-parameters of one fine-tuning run (validated: they come from suite files and agents)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """How to fine-tune a classifier. Defaults follow the reference's paper configuration where it applies.

    ``mode="full"`` trains every weight; ``mode="lora"`` trains a peft LoRA adapter on ``lora_targets``.
    Warm-up is ``warmup_steps`` if set, else ``warmup_frac`` of all steps; the schedule then decays linearly to 0.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["full", "lora"] = "lora"
    epochs: float = Field(default=2, gt=0)
    lr: float = Field(default=1e-4, gt=0)
    batch_size: int = Field(default=32, ge=1)
    warmup_steps: int | None = Field(default=None, ge=0)
    warmup_frac: float = Field(default=0.1, ge=0, le=1)
    weight_decay: float = Field(default=0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = Field(default=1.0, gt=0)
    lora_r: int = Field(default=32, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.0, ge=0, lt=1)
    lora_rslora: bool = True
    lora_targets: list[str] | Literal["all-linear"] = "all-linear"
    eval_batch_size: int = Field(default=64, ge=1)
    max_length: int = Field(default=512, ge=8)

    def with_overrides(self, **overrides: object) -> TrainConfig:
        """A validated copy with some fields replaced (unknown fields are an error)."""
        return TrainConfig.model_validate({**self.model_dump(), **overrides})
