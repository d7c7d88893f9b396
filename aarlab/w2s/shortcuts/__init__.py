"""Label-free shortcuts: predictors that score a dataset from its visible inputs alone, weak labels unused."""

from aarlab.w2s.shortcuts._predictors import (
    SHORTCUTS,
    Predictor,
    answer_frequency,
    majority_vote,
    shortcut_accuracies,
    shortcut_predictions,
)
from aarlab.w2s.shortcuts._references import STRONG_ZERO_SHOT, read_references, references_dir, write_reference

__all__ = [
    "SHORTCUTS",
    "STRONG_ZERO_SHOT",
    "Predictor",
    "answer_frequency",
    "majority_vote",
    "read_references",
    "references_dir",
    "shortcut_accuracies",
    "shortcut_predictions",
    "write_reference",
]
