"""Workspace file rules (host side, no sandbox needed): what paths resolve, what edits and notebooks do."""

from __future__ import annotations

from pathlib import Path

import pytest

from aarlab.agents.tools import MAX_NOTEBOOK_BYTES, ToolError, Workspace, clip


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "ws").mkdir()
    (tmp_path / "secret.txt").write_text("GROUND TRUTH")
    return Workspace(tmp_path / "ws")


def test_relative_and_slash_workspace_paths_name_the_same_file(ws: Workspace) -> None:
    assert ws.resolve("a/b.py") == ws.resolve("/workspace/a/b.py") == ws.root / "a" / "b.py"
    assert ws.resolve("/workspace") == ws.root


@pytest.mark.parametrize("path", ["/etc/passwd", "../secret.txt", "a/../../secret.txt", "/workspace/../secret.txt",
                                  "/workspacex/a", "", "a\x00b"])
def test_paths_outside_the_workspace_are_refused(ws: Workspace, path: str) -> None:
    with pytest.raises(ToolError):
        ws.resolve(path)


def test_a_symlink_leading_out_is_refused_but_one_staying_inside_is_followed(ws: Workspace) -> None:
    (ws.root / "out").symlink_to(ws.root.parent / "secret.txt")
    (ws.root / "dirlink").symlink_to(ws.root.parent)
    (ws.root / "real.txt").write_text("mine")
    (ws.root / "in").symlink_to("real.txt")
    for path in ("out", "dirlink/secret.txt", "dirlink/ws/real.txt/.."):
        with pytest.raises(ToolError, match="outside|'..'"):
            ws.read_text(path)
    with pytest.raises(ToolError):
        ws.write_text("dirlink/new.txt", "x")
    assert not (ws.root.parent / "new.txt").exists()
    assert ws.read_text("in") == "mine"


def test_reading_a_missing_file_lists_what_the_directory_holds(ws: Workspace) -> None:
    (ws.root / "methods").mkdir()
    (ws.root / "methods" / "mine.py").write_text("x")
    with pytest.raises(ToolError, match=r"no such file.*mine\.py"):
        ws.read_text("methods/min.py")


def test_binary_and_oversized_files_are_refused_with_a_hint(ws: Workspace) -> None:
    (ws.root / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    with pytest.raises(ToolError, match="binary"):
        ws.read_text("blob.bin")
    with pytest.raises(ToolError, match="limit"):
        ws.write_text("big.txt", "x" * 3_000_000)


def test_edit_replaces_exactly_one_occurrence_and_explains_failures(ws: Workspace) -> None:
    ws.write_text("f.py", "a = 1\nb = 2\nb = 2\n")
    assert ws.edit("f.py", "a = 1", "a = 10") == 1
    assert (ws.root / "f.py").read_text() == "a = 10\nb = 2\nb = 2\n"
    with pytest.raises(ToolError, match="2 times"):
        ws.edit("f.py", "b = 2", "b = 3")
    with pytest.raises(ToolError, match="not found"):
        ws.edit("f.py", "c = 3", "c = 4")
    with pytest.raises(ToolError, match="whitespace"):
        ws.edit("f.py", "a = 10   ", "x")
    with pytest.raises(ToolError, match="empty"):
        ws.edit("f.py", "", "x")
    assert (ws.root / "f.py").read_text() == "a = 10\nb = 2\nb = 2\n"


def test_notebook_appends_on_a_new_line_replaces_and_has_a_size_limit(ws: Workspace) -> None:
    assert ws.notebook() == ""
    ws.write_notebook("# Notes", append=True)
    ws.write_notebook("- vanilla: PGR 0.4", append=True)
    assert ws.notebook() == "# Notes\n- vanilla: PGR 0.4"
    ws.write_notebook("fresh", append=False)
    assert ws.notebook() == "fresh"
    with pytest.raises(ToolError, match="limit"):
        ws.write_notebook("x" * (MAX_NOTEBOOK_BYTES + 1), append=False)


def test_clip_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    text = "H" * 100 + "M" * 1000 + "T" * 100
    out = clip(text, 200)
    assert out.startswith("H" * 100) and out.endswith("T" * 100) and "1000 characters cut" in out
    assert clip("short", 200) == "short"


def test_a_fifo_planted_in_the_workspace_is_refused_instead_of_blocking_the_harness(ws: Workspace) -> None:
    import os

    os.mkfifo(ws.root / "pipe")
    with pytest.raises(ToolError, match="not a regular file"):
        ws.read_text("pipe")
    with pytest.raises(ToolError, match="not a regular file"):
        ws.write_text("pipe", "x")


def test_a_notebook_grown_by_the_shell_is_read_only_up_to_its_limit(ws: Workspace) -> None:
    (ws.root / "NOTEBOOK.md").write_text("n" * (MAX_NOTEBOOK_BYTES * 3))
    assert len(ws.notebook()) == MAX_NOTEBOOK_BYTES


def test_a_symlinked_or_fifo_notebook_is_never_put_back_into_context(ws: Workspace) -> None:
    import os

    (ws.root / "NOTEBOOK.md").symlink_to(ws.root.parent / "secret.txt")
    assert ws.notebook() == ""
    with pytest.raises(ToolError, match="symlink"):
        ws.write_notebook("more", append=False)
    assert (ws.root.parent / "secret.txt").read_text() == "GROUND TRUTH"
    (ws.root / "NOTEBOOK.md").unlink()
    os.mkfifo(ws.root / "NOTEBOOK.md")
    assert ws.notebook() == ""


def test_a_socket_in_the_workspace_is_refused(ws: Workspace) -> None:
    import socket

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(ws.root / "sock"))
    try:
        with pytest.raises(ToolError, match="socket"):
            ws.read_text("sock")
    finally:
        server.close()
