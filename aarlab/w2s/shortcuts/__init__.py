"""Label-free shortcuts: predictors that score a dataset from its visible inputs alone, weak labels unused."""

from aarlab.w2s.shortcuts._predictors import (
    SHORTCUTS,
    Predictor,
    answer_frequency,
    majority_vote,
    shortcut_accuracies,
    shortcut_predictions,
)

__all__ = [
    "SHORTCUTS",
    "Predictor",
    "answer_frequency",
    "majority_vote",
    "shortcut_accuracies",
    "shortcut_predictions",
]
