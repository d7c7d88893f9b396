"""Heads on frozen features: logistic regression (L2 chosen by cross-validation) or a one-hidden-layer MLP.

Heads are trained with the same :class:`~aarlab.w2s.train.Loss` objects as fine-tuned students (logits [batch, 2],
targets P(positive), ``progress`` in [0, 1]), so a method written for the fine-tune lane runs unchanged here:
the head's score z becomes the logits (0, z). Features are standardised with the training set's mean and spread.

With the default loss (soft cross-entropy, optionally weighted) the objective is a plain penalised likelihood and
is minimised full-batch with L-BFGS (a fraction of a second); a custom loss -- whose targets may depend on the
training progress, like the auxiliary-confidence loss -- is followed with Adam on mini-batches as in fine-tuning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from aarlab.w2s.probe._config import ProbeConfig
from aarlab.w2s.train import Loss, soft_cross_entropy


def _network(config: ProbeConfig, width: int) -> torch.nn.Module:
    if config.head == "logreg":
        return torch.nn.Linear(width, 1)
    return torch.nn.Sequential(torch.nn.Linear(width, config.mlp_hidden), torch.nn.ReLU(),
                               torch.nn.Linear(config.mlp_hidden, 1))


def _logits(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    z = net(x)  # [batch, 1]
    return torch.cat([torch.zeros_like(z), z], dim=-1)  # [batch, 2]: softmax = (1 - sigmoid(z), sigmoid(z))


def _penalty(net: torch.nn.Module) -> torch.Tensor:
    return sum(((p**2).sum() for name, p in net.named_parameters() if name.endswith("weight")), torch.zeros(()))


def _train(x: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None, l2: float, config: ProbeConfig,
           seed: int, loss: Loss | None) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = _network(config, x.shape[1])
    if loss is None:
        return _train_lbfgs(net, x, targets, weights, l2)
    return _train_adam(net, x, targets, l2, config, seed, loss)


def _train_lbfgs(net: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None,
                 l2: float) -> torch.nn.Module:
    opt = torch.optim.LBFGS(net.parameters(), lr=1, max_iter=100, history_size=10, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        value = soft_cross_entropy(_logits(net, x), targets, weights) + l2 * _penalty(net)
        value.backward()
        return value

    opt.step(closure)
    return net


def _train_adam(net: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor, l2: float, config: ProbeConfig,
                seed: int, loss: Loss) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    n = x.shape[0]
    batch = min(config.batch_size, n)
    steps_per_epoch = math.ceil(n / batch)
    total = max(config.min_steps, math.ceil(config.epochs * steps_per_epoch))
    order = torch.randperm(n, generator=generator)
    cursor = 0
    for step in range(total):
        if cursor + batch > n:
            order, cursor = torch.randperm(n, generator=generator), 0
        idx = order[cursor : cursor + batch]
        cursor += batch
        value = loss(_logits(net, x[idx]), targets[idx], step / total) + l2 * _penalty(net)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
    return net


@dataclass
class ProbeHead:
    """A trained head: standardisation + network. ``predict(x)`` -> P(positive) per row, float64 [n]."""

    mean: np.ndarray
    scale: np.ndarray
    net: torch.nn.Module
    l2: float

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(positive) for each row of a feature matrix [n, hidden]."""
        z = torch.from_numpy(((np.asarray(x, dtype=np.float32) - self.mean) / self.scale).astype(np.float32))
        return torch.softmax(_logits(self.net, z), dim=-1)[:, 1].double().numpy()


def _cv_accuracy(x: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None, l2: float,
                 config: ProbeConfig, seed: int, loss: Loss | None) -> float:
    n = x.shape[0]
    folds = np.array_split(np.random.default_rng(seed).permutation(n), config.cv_folds)
    hard = (targets > 0.5).float()
    correct = total = 0.0
    for k, held in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != k])
        net = _train(x[train], targets[train], None if weights is None else weights[train], l2, config, seed, loss)
        with torch.no_grad():
            predicted = (_logits(net, x[held]).argmax(-1) == 1).float()
        w = torch.ones(len(held)) if weights is None else weights[held]
        correct += float(((predicted == hard[held]).float() * w).sum())
        total += float(w.sum())
    return correct / max(total, 1e-12)


def fit_head(features: np.ndarray, targets: np.ndarray, config: ProbeConfig, seed: int, *, loss: Loss | None = None,
             weights: np.ndarray | None = None) -> ProbeHead:
    """Train a head on features [n, hidden] and targets P(positive) [n], choosing L2 by cross-validation.

    The CV score is agreement with the (hardened) *training targets* on held-out folds, weighted by ``weights``:
    the head never sees any other labels. With one value in ``config.l2_grid`` no CV is run.
    """
    x_np = np.asarray(features, dtype=np.float32)
    t_np = np.asarray(targets, dtype=np.float32)
    if x_np.ndim != 2 or len(x_np) != len(t_np):
        raise ValueError(f"features {x_np.shape} and targets {t_np.shape} do not match")
    if len(t_np) < config.cv_folds:
        raise ValueError(f"{len(t_np)} training examples; a probe needs at least {config.cv_folds}")
    if np.isnan(t_np).any() or (t_np < 0).any() or (t_np > 1).any():
        raise ValueError("targets must be probabilities in [0, 1]")
    mean = x_np.mean(0)
    scale = x_np.std(0) + 1e-6
    x = torch.from_numpy((x_np - mean) / scale)
    t = torch.from_numpy(t_np)
    w = None if weights is None else torch.from_numpy(np.asarray(weights, dtype=np.float32))
    grid = sorted(config.l2_grid)
    if len(grid) == 1:
        best = grid[0]
    else:
        scores = {l2: _cv_accuracy(x, t, w, l2, config, seed, loss) for l2 in grid}
        top = max(scores.values())
        best = max(l2 for l2, s in scores.items() if s >= top - 1e-9)  # ties: the stronger regulariser
    return ProbeHead(mean=mean, scale=scale, net=_train(x, t, w, best, config, seed, loss), l2=best)
