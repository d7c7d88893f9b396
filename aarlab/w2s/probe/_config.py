"""Hyper-parameters of the probe lane: how frozen features are read and how heads on them are trained."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ProbeConfig(BaseModel):
    """How to train a head (logistic regression or a small MLP) on cached frozen features.

    The default loss is minimised exactly (L-BFGS); a custom loss is followed with Adam on mini-batches for
    ``epochs`` (at least ``min_steps`` steps) at ``lr``. The L2 strength is chosen from ``l2_grid`` by
    ``cv_folds``-fold cross-validation on the head's *own* training targets (for a transfer student: the weak
    labels, never ground truth). ``comparison="difference"`` reads a comparison example as
    f(prompt + first) - f(prompt + second), each side formatted as a binary prompt; ``"joint"`` reads the whole
    comparison prompt once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    head: Literal["logreg", "mlp"] = "logreg"
    epochs: float = Field(default=100, gt=0)
    min_steps: int = Field(default=200, ge=1)
    lr: float = Field(default=1e-2, gt=0)
    batch_size: int = Field(default=512, ge=1)
    l2_grid: list[float] = Field(default=[1e-3, 1e-2, 1e-1], min_length=1)
    cv_folds: int = Field(default=3, ge=2)
    mlp_hidden: int = Field(default=256, ge=1)
    comparison: Literal["joint", "difference"] = "joint"
    feature_batch_size: int = Field(default=32, ge=1)
    max_length: int = Field(default=256, ge=8)

    def with_overrides(self, **overrides: object) -> ProbeConfig:
        """A validated copy with some fields replaced (unknown fields are an error)."""
        return ProbeConfig.model_validate({**self.model_dump(), **overrides})
