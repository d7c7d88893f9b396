"""Accuracy, PGR and bootstrap confidence intervals (the only home of PGR math)."""

from aarlab.w2s.metrics._pgr import DegenerateGapError, accuracy, bootstrap_pgr_ci, correctness, pgr, pgr_bar_misses

__all__ = ["DegenerateGapError", "accuracy", "bootstrap_pgr_ci", "correctness", "pgr", "pgr_bar_misses"]
