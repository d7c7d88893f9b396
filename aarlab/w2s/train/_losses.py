"""Losses for training a classifier on (possibly soft) targets. Each is a small class; targets are P(positive).

Every loss is called as ``loss(logits, targets, progress)`` with logits [batch, 2], targets [batch] in [0, 1] and
``progress`` the fraction of training done (in [0, 1]), so schedules need no extra state.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F


class Loss(Protocol):
    """A training loss on two-class logits."""

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, progress: float) -> torch.Tensor: ...


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy against soft targets; logits [batch, 2], targets [batch] = P(class 1); optional weights."""
    target_dist = torch.stack([1 - targets, targets], dim=-1)  # [batch, 2]
    per_example = -(target_dist * F.log_softmax(logits, dim=-1)).sum(-1)
    if weights is None:
        return per_example.mean()
    return (per_example * weights).sum() / weights.sum().clamp(min=1e-8)


class SoftCrossEntropy:
    """Plain cross-entropy on the given targets (hard targets are 0/1 soft targets)."""

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, progress: float) -> torch.Tensor:
        return soft_cross_entropy(logits, targets)


class AuxConfidence:
    """Burns et al. (2023) auxiliary confidence loss.

    Mixes the weak targets with the student's own *hardened* predictions:
    ``target = (1 - a) * weak + a * hard(student)``, where ``a`` ramps linearly from 0 to ``aux_coef`` over the
    first ``warmup_frac`` of training. The student is hardened at the threshold that gives it the same positive
    rate as the weak targets in the batch (so the loss does not collapse to one class). Student predictions are
    detached: the auxiliary target is a fixed label, not a path for gradients.
    """

    def __init__(self, aux_coef: float = 0.75, warmup_frac: float = 0.2) -> None:
        if not 0 <= aux_coef <= 1:
            raise ValueError(f"aux_coef must be in [0, 1], got {aux_coef}")
        if not 0 < warmup_frac <= 1:
            raise ValueError(f"warmup_frac must be in (0, 1] (a warm-up is required), got {warmup_frac}")
        self.aux_coef = aux_coef
        self.warmup_frac = warmup_frac

    def coefficient(self, progress: float) -> float:
        """Weight of the student's own labels at this point of training."""
        return self.aux_coef * min(1.0, progress / self.warmup_frac)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, progress: float) -> torch.Tensor:
        student = F.softmax(logits.detach(), dim=-1)[:, 1]  # [batch]
        positive_rate = float((targets > 0.5).float().mean())
        threshold = torch.quantile(student, 1 - positive_rate) if 0 < positive_rate < 1 else 0.5
        hardened = (student > threshold).float()
        coef = self.coefficient(progress)
        return soft_cross_entropy(logits, (1 - coef) * targets + coef * hardened)
