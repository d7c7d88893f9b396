"""Fine-tuning classifiers: hyper-parameters, losses, the training loop, prediction and frozen features.

``TrainConfig`` imports without torch (suite files and the scoring service use it); the rest loads torch lazily.
"""

from typing import TYPE_CHECKING

from aarlab._lazy import lazy_exports
from aarlab.w2s.train._config import TrainConfig

if TYPE_CHECKING:
    from aarlab.w2s.train._inference import (
        Inference,
        InferenceBackendError,
        Predictor,
        VllmOptions,
        VllmPredictor,
        select_predictor,
    )
    from aarlab.w2s.train._loop import apply_lora, extract_features, fine_tune, predict_proba
    from aarlab.w2s.train._losses import AuxConfidence, Loss, SoftCrossEntropy, soft_cross_entropy

_LAZY = {
    "Inference": "_inference",
    "InferenceBackendError": "_inference",
    "Predictor": "_inference",
    "VllmOptions": "_inference",
    "VllmPredictor": "_inference",
    "select_predictor": "_inference",
    "AuxConfidence": "_losses",
    "Loss": "_losses",
    "SoftCrossEntropy": "_losses",
    "soft_cross_entropy": "_losses",
    "apply_lora": "_loop",
    "extract_features": "_loop",
    "fine_tune": "_loop",
    "predict_proba": "_loop",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "AuxConfidence",
    "Inference",
    "InferenceBackendError",
    "Predictor",
    "Loss",
    "SoftCrossEntropy",
    "TrainConfig",
    "VllmOptions",
    "VllmPredictor",
    "apply_lora",
    "extract_features",
    "fine_tune",
    "predict_proba",
    "select_predictor",
    "soft_cross_entropy",
]
