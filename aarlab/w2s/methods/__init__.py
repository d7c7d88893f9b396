"""W2S methods: the plug-in API and the literature baselines (one file each)."""

from aarlab.w2s.methods._api import (
    Method,
    MethodContext,
    MethodError,
    builtin_methods,
    load_method_file,
    method,
    resolve_method,
    validate_predictions,
)

__all__ = [
    "Method",
    "MethodContext",
    "MethodError",
    "builtin_methods",
    "load_method_file",
    "method",
    "resolve_method",
    "validate_predictions",
]
