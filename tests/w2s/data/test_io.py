import json
from pathlib import Path

import pytest

from aarlab.w2s.data import (
    BinaryExample,
    ComparisonExample,
    DatasetError,
    content_id,
    load_dataset,
    read_split,
    write_split,
)


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_binary_and_comparison_lines_load_with_their_kind(tmp_path: Path) -> None:
    b = read_split(_write(tmp_path / "b.jsonl", [{"id": "1", "question": "q", "choice": "c", "label": True}]))
    c = read_split(_write(tmp_path / "c.jsonl", [{"id": "1", "prompt": "p", "first": "x", "second": "y",
                                                  "label": "B"}]))
    assert b.kind == "binary" and isinstance(b.examples[0], BinaryExample) and b.examples[0].positive() is True
    assert c.kind == "comparison" and isinstance(c.examples[0], ComparisonExample) and c.examples[0].positive()


def test_lines_without_id_are_rejected_unless_ids_are_derived(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.jsonl", [{"question": "q", "choice": "c", "label": False}])
    with pytest.raises(DatasetError, match=r"s.jsonl:1: missing required field 'id'"):
        read_split(path)
    loaded = read_split(path, derive_ids=True)
    assert loaded.derived_ids and loaded.examples[0].id == content_id({"question": "q", "choice": "c"})


def test_derived_ids_ignore_the_label_so_labeled_and_stripped_copies_agree() -> None:
    assert content_id({"question": "q", "choice": "c", "label": True}) == content_id({"question": "q", "choice": "c"})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"bad.jsonl:2: invalid JSON"),
        ('["a list"]', r"bad.jsonl:2: expected a JSON object, found list"),
        ({"id": "2", "foo": 1}, r"bad.jsonl:2: not a binary line"),
        ({"id": "2", "question": "q", "choice": "c", "label": "yes"}, r"bad.jsonl:2: field label"),
        ({"id": "2", "question": 5, "choice": "c", "label": True}, r"bad.jsonl:2: field question"),
        ({"id": "", "question": "q", "choice": "c"}, r"bad.jsonl:2: field id"),
        ({"id": "1", "question": "q", "choice": "c"}, r"bad.jsonl:2: duplicate id '1' \(first seen on line 1\)"),
        ({"id": "2", "prompt": "p", "first": "a", "second": "b", "label": "A"}, r"a comparison line in a binary"),
    ],
)
def test_malformed_lines_name_file_line_and_problem(tmp_path: Path, line: object, message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [{"id": "1", "question": "q", "choice": "c", "label": True}, line])
    with pytest.raises(DatasetError, match=message):
        read_split(path)


def test_a_truncated_line_reports_the_column_where_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"id": "1", "question": "q", "choice": "c", "label": true}\n{"id": "2", "question": "q",\n')
    with pytest.raises(DatasetError, match=r"cut.jsonl:2: invalid JSON \(.* at column 29; the line ends there"):
        read_split(path)


def test_a_bad_character_mid_line_reports_its_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "question": q}\n')
    with pytest.raises(DatasetError, match=r"bad.jsonl:1: invalid JSON \(Expecting value at column 25\)"):
        read_split(path)


def test_comparison_label_must_be_a_or_b(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", [{"id": "1", "prompt": "p", "first": "a", "second": "b", "label": "C"}])
    with pytest.raises(DatasetError, match="bad.jsonl:1: field label"):
        read_split(path)


def test_empty_and_missing_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no examples"):
        read_split(_write(tmp_path / "empty.jsonl", []))
    with pytest.raises(DatasetError, match="no such file"):
        read_split(tmp_path / "absent.jsonl")


def test_dataset_directory_needs_all_three_splits(tmp_path: Path) -> None:
    _write(tmp_path / "train_label.jsonl", [{"id": "1", "question": "q", "choice": "c", "label": True}])
    with pytest.raises(DatasetError, match="missing split file.*train_unlabel.jsonl.*test.jsonl"):
        load_dataset(tmp_path)


def test_round_trip_keeps_ids_labels_and_extra_fields(tmp_path: Path) -> None:
    examples = [BinaryExample(id="a", question="q", choice="c", label=False, consistency_id=7)]
    write_split(tmp_path / "x.jsonl", examples)
    again = read_split(tmp_path / "x.jsonl").examples
    assert again == examples and again[0].extra_fields() == {"consistency_id": 7}
