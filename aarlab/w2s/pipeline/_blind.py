"""The question-blind baseline: a probe that sees only the answer text.

If it scores near the weak teacher, the dataset has a shortcut (e.g. popular entities are usually right) that
lets a weak model look strong without the knowledge the task is about. It is trained like the strong ceiling
(``train_unlabel`` ground truth) and scored on ``test``; a comparison is read as f(first) - f(second).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aarlab.suites._spec import Suite
from aarlab.w2s.data import BinaryExample, Example
from aarlab.w2s.metrics import accuracy
from aarlab.w2s.pipeline._experiment import Experiment, default_cache
from aarlab.w2s.probe import FeatureBank, fit_head


def answer_features(bank: FeatureBank, examples: Sequence[Example]) -> np.ndarray:
    """Features of the answers alone: f(choice), or f(first) - f(second) for comparisons."""
    if all(isinstance(e, BinaryExample) for e in examples):
        return bank.text_matrix([e.choice for e in examples])  # type: ignore[union-attr]
    rows = bank.text_matrix([t for e in examples for t in (e.first, e.second)])  # type: ignore[union-attr]
    return rows[0::2] - rows[1::2]


def question_blind_accuracy(suite: Suite, dataset: str, seeds: Sequence[int],
                            roles: Sequence[str] = ("weak", "strong")) -> dict[str, float]:
    """Mean test accuracy over ``seeds`` of an answer-only probe on each role's features."""
    return answer_only_accuracy(Experiment(suite, dataset, default_cache(suite), lane="probe"), seeds, roles)


def answer_only_accuracy(experiment: Experiment, seeds: Sequence[int],
                         roles: Sequence[str] = ("weak", "strong")) -> dict[str, float]:
    """:func:`question_blind_accuracy` on an experiment already open (its loaded models and features reused)."""
    suite = experiment.suite
    train, test = experiment.dataset.split("train_unlabel"), experiment.dataset.split("test")
    targets = np.array([float(bool(e.positive())) for e in train])
    out = {}
    for role in roles:
        bank = experiment.bank(role)
        x_train, x_test = answer_features(bank, train), answer_features(bank, test)
        accs = []
        for seed in seeds:
            head = fit_head(x_train, targets, suite.spec.probe, seed)
            accs.append(accuracy({e.id: float(p) for e, p in zip(test, head.predict(x_test), strict=True)}, test))
        out[role] = float(np.mean(accs))
    return out
