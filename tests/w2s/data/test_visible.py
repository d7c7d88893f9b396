import json
from pathlib import Path

import pytest

from aarlab.w2s.data import (
    LABEL_FIELDS,
    BinaryExample,
    Dataset,
    assert_label_free,
    write_agent_visible,
)


def _dataset() -> Dataset:
    def ex(i: str, label: bool) -> BinaryExample:
        return BinaryExample(id=i, question="2 + 2", choice="4", label=label, answer="4", difficulty="easy",
                             subset="s", consistency_key="k", consistency_id=1)

    return Dataset("d", "binary", {"train_label": [ex("l0", True)], "train_unlabel": [ex("u0", True), ex("u1", False)],
                                   "test": [ex("t0", False)]})


def test_agent_visible_copy_carries_no_label_field_anywhere(tmp_path: Path) -> None:
    files = write_agent_visible(tmp_path, _dataset(), {"u0": 0.9, "u1": 0.2})
    assert sorted(p.name for p in files) == ["test.jsonl", "train_unlabel.jsonl", "weak_soft_labels.jsonl"]
    assert not (tmp_path / "train_label.jsonl").exists()
    for path in files[:2]:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert records and all(not (LABEL_FIELDS & set(r)) for r in records)
        assert all("question" in r and "id" in r and r["consistency_id"] == 1 for r in records)
        assert '"label"' not in path.read_text()


def test_weak_soft_labels_are_keyed_by_unlabeled_ids(tmp_path: Path) -> None:
    write_agent_visible(tmp_path, _dataset(), {"u0": 0.9, "u1": 0.2})
    rows = [json.loads(line) for line in (tmp_path / "weak_soft_labels.jsonl").read_text().splitlines()]
    assert rows == [{"id": "u0", "p": 0.9}, {"id": "u1", "p": 0.2}]
    with pytest.raises(ValueError, match="not in train_unlabel"):
        write_agent_visible(tmp_path, _dataset(), {"t0": 0.5})


def test_label_check_catches_a_leaked_label() -> None:
    with pytest.raises(ValueError, match="carries label field"):
        assert_label_free([{"id": "x", "question": "q", "label": True}])
