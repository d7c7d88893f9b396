"""Distinct test items: counted at import (a split that repeats rows has the noise of its items, not its rows)."""

from __future__ import annotations

from pathlib import Path

from aarlab.server import init_state
from aarlab.server._integrity import Baselines
from aarlab.server._scoring import load_answer_keys
from aarlab.w2s.data import BinaryExample, content_id, distinct_items, read_split, write_split
from tests.server.fakesuite import SUITE, write_fake_suite


def test_distinct_items_ignore_ids_and_labels() -> None:
    rows = [BinaryExample(id=f"r{i}", question=f"q{i % 3}", choice="1", label=i % 2 == 0) for i in range(12)]
    assert distinct_items(rows) == 3
    assert distinct_items([*rows, BinaryExample(id="x", question="q0", choice="2")]) == 4


def test_a_state_counts_the_distinct_items_of_each_test_split_and_its_public_part(tmp_path: Path) -> None:
    home = write_fake_suite(tmp_path / "home")
    test_file = home / "suites" / SUITE / "data" / "math" / "test.jsonl"
    originals = read_split(test_file).examples
    repeated = [originals[i % 20].model_copy(update={"id": f"math-test-{i:05d}"}) for i in range(200)]
    write_split(test_file, repeated)  # 200 rows of 20 questions, as tiny repeats its items
    state = init_state(tmp_path / "state", suite=SUITE, home=home)
    with state.db.reader.connect() as conn:
        keys = load_answer_keys(conn)
    state.db.dispose()
    math, chat = keys["math"], keys["chat"]
    public_contents = {content_id(e.model_dump()) for pos, e in enumerate(repeated) if math.public[pos]}
    assert (math.n_test, math.n_test_items, math.n_public_items) == (200, 20, len(public_contents))
    assert (Baselines.of_key(math).n_test, Baselines.of_key(math).n_public) == (20, len(public_contents))
    assert chat.n_test_items == chat.n_test == 200  # distinct rows: items and rows agree


def test_copies_of_one_item_are_public_or_private_together(tmp_path: Path) -> None:
    home = write_fake_suite(tmp_path / "home")
    test_file = home / "suites" / SUITE / "data" / "math" / "test.jsonl"
    originals = read_split(test_file).examples
    repeated = [originals[i % 20].model_copy(update={"id": f"math-test-{i:05d}"}) for i in range(200)]
    write_split(test_file, repeated)
    state = init_state(tmp_path / "state", suite=SUITE, home=home)
    with state.db.reader.connect() as conn:
        key = load_answer_keys(conn)["math"]
    state.db.dispose()
    sides: dict[str, set[bool]] = {}
    for pos, e in enumerate(repeated):
        sides.setdefault(content_id(e.model_dump()), set()).add(bool(key.public[pos]))
    assert all(len(s) == 1 for s in sides.values())
    assert 0 < key.n_public_items < 20 and 90 <= int(key.public.sum()) <= 110  # ~half, in whole items
