"""The probe lane: frozen features computed once per (model, layer, pooling, texts) and cached memory-mapped, and
heads (logistic regression with cross-validated L2, or a small MLP) trained on them in seconds.

``ProbeConfig`` imports without torch (suite files use it); the rest loads lazily.
"""

from typing import TYPE_CHECKING

from aarlab._lazy import lazy_exports
from aarlab.w2s.probe._config import ProbeConfig

if TYPE_CHECKING:
    from aarlab.w2s.probe._bank import FeatureBank, example_texts
    from aarlab.w2s.probe._extract import FeatureExtractor, load_extractor
    from aarlab.w2s.probe._head import ProbeHead, fit_head
    from aarlab.w2s.probe._store import FEATURE_VERSION, FeatureStore, feature_key

_LAZY = {
    "FeatureBank": "_bank",
    "example_texts": "_bank",
    "FeatureExtractor": "_extract",
    "load_extractor": "_extract",
    "ProbeHead": "_head",
    "fit_head": "_head",
    "FEATURE_VERSION": "_store",
    "FeatureStore": "_store",
    "feature_key": "_store",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "FEATURE_VERSION",
    "FeatureBank",
    "FeatureExtractor",
    "FeatureStore",
    "ProbeConfig",
    "ProbeHead",
    "example_texts",
    "feature_key",
    "fit_head",
    "load_extractor",
]
