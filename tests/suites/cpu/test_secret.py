"""The cpu builder mixes the suite's build secret into every draw: with the suite file's settings alone (and the
builder and its data-source packages, which agents do not have) nobody reproduces a test label (issue 14)."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import pytest

from aarlab.suites import load_suite
from aarlab.suites._secret import SECRET_FILE
from aarlab.suites._spec import Suite
from aarlab.suites.cpu import _chat, build_chat, build_code, build_math, humaneval_problems
from aarlab.suites.cpu._build import _datasets
from aarlab.w2s.data import Dataset, load_dataset

SECRET = "5e" * 32


def _suite_file_seed() -> int:
    return int(load_suite("cpu", Path("/nonexistent")).spec.build.get("data_seed", 0))


def _agreement(truth: Dataset, guess: Dataset) -> tuple[float, int]:
    """Share of the true test ids whose label the guess gives (by id), and how many ids it could match."""
    labels = {e.id: e.label for e in guess.splits["test"]}
    matched = [e for e in truth.splits["test"] if e.id in labels]
    return sum(labels[e.id] == e.label for e in matched) / max(1, len(matched)), len(matched)


@pytest.fixture
def few_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 synthetic chat facts instead of GeoNames (loading it takes ~20 s on a busy 2-core machine)."""
    rng = random.Random(0)
    names = [f"Land{i}" for i in range(40)]
    facts = []
    for i in range(2000):
        answer = rng.choice(names)
        pool = tuple((n, 1.0) for n in names if n != answer)
        facts.append(_chat.Fact("city_country", f"city:C{i}", f"In which country is C{i}?", answer, pool))
    monkeypatch.setattr(_chat, "chat_facts", lambda: facts)


def test_the_same_secret_rebuilds_the_same_datasets(few_facts: None) -> None:
    seed = _suite_file_seed()
    assert build_math(seed, SECRET).splits == build_math(seed, SECRET).splits
    assert build_chat(seed, SECRET).splits == build_chat(seed, SECRET).splits


@pytest.mark.parametrize("build", [build_math, build_chat], ids=["math", "chat"])
def test_the_suite_files_settings_alone_do_not_reproduce_the_test_labels(few_facts: None, build) -> None:
    seed = _suite_file_seed()
    truth = build(seed, SECRET)
    agreement, matched = _agreement(truth, build(seed))
    assert matched > 300
    assert 0.4 < agreement < 0.6  # chance; the same call with SECRET gives 1.0
    assert _agreement(truth, build(seed, SECRET))[0] == 1.0


def test_code_labels_are_not_reproduced_without_the_secret() -> None:
    problems = humaneval_problems()[:8]
    seed = _suite_file_seed()
    truth, guess = build_code(seed, SECRET, problems=problems), build_code(seed, problems=problems)
    truth_rows = {(e.question, e.choice) for e in truth.splits["test"]}
    guess_rows = {(e.question, e.choice) for e in guess.splits["test"]}
    assert truth_rows != guess_rows  # other candidates, other split of problems
    agreement, matched = _agreement(truth, guess)
    assert matched == 0 or agreement < 1.0


def test_the_cpu_build_writes_its_secret_0600_in_the_suite_root_and_uses_it(tmp_path: Path) -> None:
    spec = load_suite("cpu", tmp_path).spec.model_copy(update={"datasets": ["math"], "experimental": []})
    suite = Suite(spec, tmp_path)
    _datasets(suite, lambda *_a: None, lambda _m: None, {})
    secret_file = suite.root / SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    written = load_dataset(suite.data_path("math"), name="math")
    assert _agreement(written, build_math(_suite_file_seed(), secret))[0] == 1.0
    assert _agreement(written, build_math(_suite_file_seed()))[0] < 0.6
    _datasets(suite, lambda *_a: None, lambda _m: None, {})  # a rebuild keeps the secret and the labels
    assert secret_file.read_text().strip() == secret
    assert load_dataset(suite.data_path("math"), name="math").splits == written.splits
