import pytest
import torch

from aarlab.w2s.train import AuxConfidence, SoftCrossEntropy, soft_cross_entropy


def test_soft_cross_entropy_on_hard_targets_equals_ordinary_cross_entropy() -> None:
    logits = torch.tensor([[0.2, 1.5], [2.0, -1.0]])
    targets = torch.tensor([1.0, 0.0])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 0]))
    assert soft_cross_entropy(logits, targets) == pytest.approx(float(expected))
    assert SoftCrossEntropy()(logits, targets, 0.3) == pytest.approx(float(expected))


def test_weights_scale_examples() -> None:
    logits = torch.tensor([[0.0, 3.0], [0.0, -3.0]])
    targets = torch.tensor([1.0, 1.0])
    only_first = soft_cross_entropy(logits, targets, torch.tensor([1.0, 0.0]))
    assert only_first == pytest.approx(float(soft_cross_entropy(logits[:1], targets[:1])))


def test_aux_confidence_ramps_up_over_its_warm_up() -> None:
    loss = AuxConfidence(aux_coef=0.5, warmup_frac=0.2)
    assert loss.coefficient(0.0) == 0 and loss.coefficient(0.1) == pytest.approx(0.25)
    assert loss.coefficient(0.2) == pytest.approx(0.5) and loss.coefficient(1.0) == pytest.approx(0.5)


def test_aux_confidence_equals_plain_loss_before_warm_up_and_differs_after() -> None:
    logits = torch.tensor([[3.0, -3.0], [-3.0, 3.0], [0.0, 1.0], [1.0, 0.0]])
    weak = torch.tensor([1.0, 0.0, 1.0, 0.0])  # the student confidently disagrees on the first two
    aux = AuxConfidence(aux_coef=0.75, warmup_frac=0.2)
    assert aux(logits, weak, 0.0) == pytest.approx(float(soft_cross_entropy(logits, weak)))
    assert aux(logits, weak, 1.0) < soft_cross_entropy(logits, weak)


def test_aux_confidence_requires_a_warm_up() -> None:
    with pytest.raises(ValueError, match="warm-up is required"):
        AuxConfidence(warmup_frac=0)
