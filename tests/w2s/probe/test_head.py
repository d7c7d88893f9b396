"""Probe heads: they learn, choose L2 by cross-validation on their own targets, and take the lane's Loss objects."""

import numpy as np
import pytest
import torch

from aarlab.w2s.probe import ProbeConfig, fit_head
from aarlab.w2s.train import AuxConfidence, soft_cross_entropy


def _separable(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32) * 3 + 1
    return x, (x[:, 0] - x[:, 1] > 0).astype(np.float32)


@pytest.mark.parametrize("head", ["logreg", "mlp"])
def test_a_head_learns_a_separable_problem(head: str) -> None:
    x, y = _separable()
    model = fit_head(x[:200], y[:200], ProbeConfig(head=head), seed=0)
    assert ((model.predict(x[200:]) > 0.5) == (y[200:] > 0.5)).mean() > 0.9


def test_l2_is_chosen_from_the_grid_and_a_single_value_skips_cross_validation() -> None:
    x, y = _separable()
    assert fit_head(x, y, ProbeConfig(), seed=0).l2 in ProbeConfig().l2_grid
    assert fit_head(x, y, ProbeConfig(l2_grid=[0.5]), seed=0).l2 == 0.5


def test_training_is_deterministic_per_seed() -> None:
    x, y = _separable()
    a, b = (fit_head(x, y, ProbeConfig(), seed=3).predict(x) for _ in range(2))
    assert np.array_equal(a, b)


class _AlwaysPositive:
    """A loss that ignores the targets: pushes every prediction to the positive class."""

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, progress: float) -> torch.Tensor:
        return soft_cross_entropy(logits, torch.ones_like(targets))


def test_a_custom_loss_and_example_weights_are_used() -> None:
    x, y = _separable()
    assert (fit_head(x, y, ProbeConfig(l2_grid=[1e-3]), seed=0, loss=_AlwaysPositive()).predict(x) > 0.5).all()
    aux = fit_head(x, y, ProbeConfig(l2_grid=[1e-3]), seed=0, loss=AuxConfidence(0.75, 0.2))
    assert ((aux.predict(x) > 0.5) == (y > 0.5)).mean() > 0.8
    noisy = y.copy()
    noisy[:60] = 1 - noisy[:60]
    # weight 0 on the flipped examples: the head learns the clean rule
    weights = np.ones(len(y), dtype=np.float32)
    weights[:60] = 0
    clean = fit_head(x, noisy, ProbeConfig(l2_grid=[1e-3]), seed=0, weights=weights)
    assert ((clean.predict(x[:60]) > 0.5) == (y[:60] > 0.5)).mean() > 0.9


def test_bad_inputs_are_rejected_with_a_reason() -> None:
    x, y = _separable(10)
    with pytest.raises(ValueError, match="do not match"):
        fit_head(x, y[:5], ProbeConfig(), seed=0)
    with pytest.raises(ValueError, match="probabilities"):
        fit_head(x, y * 2, ProbeConfig(), seed=0)
    with pytest.raises(ValueError, match="at least 3"):
        fit_head(x[:2], y[:2], ProbeConfig(), seed=0)
