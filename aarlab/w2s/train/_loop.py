"""The fine-tuning loop and batched prediction for a :class:`LabelTokenHead`."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import numpy as np
import torch

from aarlab.w2s.models import LabelTokenHead
from aarlab.w2s.train._config import TrainConfig
from aarlab.w2s.train._losses import Loss, SoftCrossEntropy, soft_cross_entropy

ProgressFn = Callable[[int, int], None]


def apply_lora(model: torch.nn.Module, config: TrainConfig, seed: int = 0) -> torch.nn.Module:
    """Wrap ``model`` with a fresh LoRA adapter (peft); only adapter weights stay trainable.

    The adapter's random initial weights follow ``seed`` alone (the global RNG is left as it was): without this they
    came from whatever the process had drawn before, so the same seed trained a different student depending on
    which stages were cached.
    """
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        use_rslora=config.lora_rslora,
        target_modules=config.lora_targets,
        bias="none",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return get_peft_model(model, lora)  # type: ignore[arg-type]


def _schedule(total_steps: int, config: TrainConfig) -> Callable[[int], float]:
    warmup = config.warmup_steps if config.warmup_steps is not None else round(config.warmup_frac * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return factor


def fine_tune(
    head: LabelTokenHead,
    prompts: Sequence[str],
    targets: Sequence[float] | np.ndarray,
    config: TrainConfig,
    seed: int,
    *,
    loss: Loss | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Train ``head.model`` in place on prompts with targets P(positive) in [0, 1].

    ``weights`` (per example) scale the default loss; a custom ``loss`` ignores them. ``epochs`` may be
    fractional. Shuffling and dropout follow ``seed``.
    """
    if len(prompts) != len(targets):
        raise ValueError(f"{len(prompts)} prompts but {len(targets)} targets")
    if not prompts:
        raise ValueError("no training examples")
    target_arr = np.asarray(targets, dtype=np.float32)
    if np.isnan(target_arr).any() or (target_arr < 0).any() or (target_arr > 1).any():
        raise ValueError("targets must be probabilities in [0, 1]")
    weight_arr = None if weights is None else np.asarray(weights, dtype=np.float32)
    loss_fn: Loss = loss or SoftCrossEntropy()
    rng = random.Random(seed)
    torch.manual_seed(seed)
    n = len(prompts)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = max(1, math.ceil(config.epochs * steps_per_epoch))
    params = [p for p in head.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(total_steps, config))
    head.model.train()
    order: list[int] = []
    for step in range(total_steps):
        if len(order) < config.batch_size:
            epoch_order = list(range(n))
            rng.shuffle(epoch_order)
            order.extend(epoch_order)
        idx, order = order[: config.batch_size], order[config.batch_size :]
        batch = head.encode([prompts[i] for i in idx])
        logits = head.logits(batch)  # [batch, 2]
        batch_targets = torch.from_numpy(target_arr[idx]).to(logits.device)
        if weight_arr is not None and loss is None:
            value = soft_cross_entropy(logits, batch_targets, torch.from_numpy(weight_arr[idx]).to(logits.device))
        else:
            value = loss_fn(logits, batch_targets, step / total_steps)
        opt.zero_grad(set_to_none=True)
        value.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()
        sched.step()
        if progress is not None:
            progress(step + 1, total_steps)
    head.model.eval()


@torch.no_grad()
def predict_proba(head: LabelTokenHead, prompts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """P(positive class) for each prompt: float64 array [n]."""
    head.model.eval()
    out = []
    for start in range(0, len(prompts), batch_size):
        logits = head.logits(head.encode(prompts[start : start + batch_size]))
        out.append(torch.softmax(logits, dim=-1)[:, 1].cpu().double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


@torch.no_grad()
def extract_features(head: LabelTokenHead, prompts: Sequence[str], layer: int, batch_size: int = 64) -> np.ndarray:
    """Frozen hidden states at the label position: float32 array [n, hidden]."""
    head.model.eval()
    out = [head.hidden(head.encode(prompts[s : s + batch_size]), layer).cpu().numpy()
           for s in range(0, len(prompts), batch_size)]
    return np.concatenate(out).astype(np.float32)
