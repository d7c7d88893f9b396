"""The W2S experiment driver: weak teacher -> strong ceiling -> method -> scores, with artifact caching."""

from aarlab.w2s.pipeline._blind import answer_features, question_blind_accuracy
from aarlab.w2s.pipeline._experiment import (
    STAGE_VERSIONS,
    Experiment,
    ExperimentResult,
    SeedResult,
    default_cache,
    shuffled_soft_labels,
)

__all__ = [
    "STAGE_VERSIONS",
    "Experiment",
    "ExperimentResult",
    "SeedResult",
    "answer_features",
    "default_cache",
    "question_blind_accuracy",
    "shuffled_soft_labels",
]
