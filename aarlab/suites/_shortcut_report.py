"""The build-time shortcut report: every known label-free shortcut scored per dataset, against the weak teacher.

A testbed is only meaningful if nothing that ignores the weak labels scores as well as the teacher. Per dataset
the report scores on ``test`` (ground truth read here, at build time, never by an agent):

* the pure label-free predictors of :mod:`aarlab.w2s.shortcuts` (majority vote, answer frequency), which see what
  an agent sees: ``train_unlabel`` and ``test`` inputs;
* the builder's own known shortcuts, passed in (tiny: computing the input, the planted cue);
* the question-blind probe (:mod:`aarlab.w2s.pipeline._blind`), when asked for: an answer-only probe on each model's
  features, trained on ``train_unlabel`` ground truth (an upper bound on any answer-only signal).

A dataset whose best shortcut reaches its weak_acc is refused (:class:`SuiteBuildError`), unless marked
experimental.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aarlab.suites._spec import Suite


def dataset_shortcuts(suite: Suite, dataset: str, known: Mapping[str, float], blind_probe_seeds: Sequence[int] = (),
                      ) -> dict[str, float]:
    """Accuracy on ``test`` of every label-free shortcut known for one dataset of a built suite."""
    from aarlab.w2s.data import load_dataset
    from aarlab.w2s.shortcuts import shortcut_accuracies

    data = load_dataset(suite.data_path(dataset), name=dataset, derive_ids=True)
    test = data.split("test")
    out = shortcut_accuracies(test, [*data.split("train_unlabel"), *test])
    out.update(known)
    if blind_probe_seeds:
        from aarlab.w2s.pipeline._blind import question_blind_accuracy

        for role, acc in question_blind_accuracy(suite, dataset, list(blind_probe_seeds)).items():
            out[f"blind-probe-{role}"] = acc
    return {name: round(float(acc), 4) for name, acc in out.items()}


def shortcut_report(suite: Suite, weak_acc: Mapping[str, float], known: Mapping[str, Mapping[str, float]],
                    blind_probe_seeds: Sequence[int] = ()) -> dict[str, dict[str, Any]]:
    """Per dataset: every shortcut's accuracy, the best one, the weak_acc it must stay below, and the margin."""
    report = {}
    for dataset in suite.spec.datasets:
        scores = dataset_shortcuts(suite, dataset, known.get(dataset, {}), blind_probe_seeds)
        best = max(scores, key=lambda name: scores[name])
        weak = weak_acc[dataset]
        report[dataset] = {"shortcuts": scores, "best": best, "best_acc": scores[best], "weak_acc": round(weak, 4),
                           "margin": round(weak - scores[best], 4)}
    return report


def shortcut_problems(report: Mapping[str, Mapping[str, Any]], experimental: Sequence[str]) -> list[str]:
    """One line per non-experimental dataset whose best label-free shortcut reaches its weak_acc."""
    return [f"{d}: the label-free shortcut {r['best']!r} scores {r['best_acc']:.3f} on test, at or above the weak "
            f"teacher's {r['weak_acc']:.3f}" for d, r in report.items()
            if r["best_acc"] >= r["weak_acc"] and d not in experimental]
