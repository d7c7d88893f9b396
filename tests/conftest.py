"""Shared fixtures: a *micro* suite (random tiny models, seconds), the real tiny suite (built once, cached) and a
throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aarlab.suites import Suite, SuiteSpec, build_suite, load_suite
from tests.server.pg import PostgresCluster, PostgresUnavailable, start_cluster

MICRO_SIZES = {"train_label": 48, "train_unlabel": 96, "test": 64}

# One CPU thread per model process unless the developer sets AARLAB_THREADS: the test models are tiny (more threads
# mostly wait on each other), results then do not depend on the machine's core count or load, and subprocesses the
# tests start inherit it.
os.environ.setdefault("AARLAB_THREADS", "1")


def _write_micro_suite(root: Path) -> Suite:
    import random

    import torch

    from aarlab.suites.tiny._datasets import build_dataset
    from aarlab.suites.tiny._pretrain import ArchConfig, corpus_texts, new_model
    from aarlab.suites.tiny._tokenizer import train_tokenizer
    from aarlab.suites.tiny._world import build_world
    from aarlab.w2s.data import Dataset, write_dataset

    torch.set_num_threads(1)
    world = build_world(3)
    for task in ("math", "chat"):
        full = build_dataset(world, task, 0)
        small = Dataset(task, full.kind, {s: full.splits[s][:n] for s, n in MICRO_SIZES.items()})
        write_dataset(root / "data" / task, small)
    tokenizer = train_tokenizer(corpus_texts(world, random.Random(0)))
    arch = ArchConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, head_dim=16)
    for role, seed in (("weak", 1), ("strong", 2)):
        model = new_model(tokenizer, arch, seed)
        model.save_pretrained(root / "models" / role)
        tokenizer.save_pretrained(root / "models" / role)
    spec = SuiteSpec.model_validate({
        "name": "micro",
        "description": "random tiny models for fast tests",
        "data_dir": str(root / "data"),
        "datasets": ["math", "chat"],
        "weak": {"model": str(root / "models" / "weak")},
        "strong": {"model": str(root / "models" / "strong"), "feature_layer": 1},
        "weak_train": {"mode": "full", "epochs": 1, "lr": 1e-3, "batch_size": 16, "warmup_steps": 1},
        "strong_train": {"mode": "full", "epochs": 1, "lr": 1e-3, "batch_size": 16, "warmup_steps": 1},
        "baseline_seeds": [0],
    })
    return Suite(spec, root / "home")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster (initdb in a temp dir, free port); skips when it cannot be started."""
    try:
        cluster = start_cluster()
    except PostgresUnavailable as err:
        pytest.skip(f"PostgreSQL tests skipped: {err}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def micro_suite(tmp_path_factory: pytest.TempPathFactory) -> Suite:
    """Two random (untrained) tiny Qwen3 models and small math/chat datasets: the full code path in seconds."""
    return _write_micro_suite(tmp_path_factory.mktemp("micro"))


@pytest.fixture(scope="session")
def tiny_home() -> Path:
    """Home holding the real tiny suite; reused across runs (``$AARLAB_TEST_HOME`` or ~/.cache/aarlab-test)."""
    home = Path(os.environ.get("AARLAB_TEST_HOME", Path.home() / ".cache" / "aarlab-test"))
    home.mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture(scope="session")
def tiny_suite(tiny_home: Path) -> Suite:
    """The real tiny suite, built once (~6 minutes on 2 cores the first time, then cached)."""
    suite = load_suite("tiny", tiny_home)
    build_suite(suite, lambda *_: None)
    return suite


# In CI the real components must be there: a test skipped because bubblewrap, chromium or PostgreSQL is missing
# fails the run instead of passing silently (locally such skips stay skips).
REQUIRED_IN_CI = ("bubblewrap", "bwrap", "chromium", "PostgreSQL", "playwright", "Ray cluster", "S3 tests")
_missing_in_ci: list[str] = []


def _note_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if os.environ.get("CI", "").lower() != "true" or not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(word.lower() in reason.lower() for word in REQUIRED_IN_CI):
        _missing_in_ci.append(f"{report.nodeid}: {reason}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _missing_in_ci:
        print(f"\nCI=true but {len(_missing_in_ci)} test(s) skipped for a missing real component:")
        for line in _missing_in_ci[:10]:
            print(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
