"""Build-time shortcut references: written by the suite build, read back by the scoring service."""

from __future__ import annotations

from pathlib import Path

import pytest

from aarlab.w2s.shortcuts import STRONG_ZERO_SHOT, read_references, references_dir, write_reference


def test_a_written_reference_reads_back_under_its_shortcut_name(tmp_path: Path) -> None:
    write_reference(tmp_path, "chat", STRONG_ZERO_SHOT, {"a": 0.25, "b": 0.75})
    assert read_references(tmp_path, "chat") == {STRONG_ZERO_SHOT: {"a": 0.25, "b": 0.75}}
    assert read_references(tmp_path, "math") == {}


def test_a_reference_name_that_is_not_lower_case_words_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lower-case words"):
        write_reference(tmp_path, "chat", "../escape", {"a": 0.5})


def test_a_malformed_reference_line_names_file_and_line(tmp_path: Path) -> None:
    path = references_dir(tmp_path, "chat") / "broken.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "a", "p": 0.5}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"broken.jsonl:2"):
        read_references(tmp_path, "chat")
