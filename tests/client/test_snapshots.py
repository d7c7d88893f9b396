"""Pulling a snapshot never writes outside the target directory, whatever the archive says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aarlab.cli import app
from aarlab.client import ForumClient, UnsafeArchiveError, pack_directory, safe_extract
from tests.server.helpers import craft_tar


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


MALICIOUS = {
    "tar-slip": ("../escaped.txt", "file", "pwned"),
    "deep tar-slip": ("sub/../../escaped.txt", "file", "pwned"),
    "absolute": ("/tmp/aarlab-escaped-absolute.txt", "file", "pwned"),
    "symlink": ("link", "symlink", "../"),
    "hard link": ("hard", "hardlink", "/etc/passwd"),
    "device": ("dev", "device", ""),
}


@pytest.mark.parametrize("entry", MALICIOUS.values(), ids=MALICIOUS.keys())
def test_malicious_entries_are_refused_before_anything_is_written(tmp_path: Path, entry: tuple[str, str, str]) -> None:
    dest = tmp_path / "work"
    archive = craft_tar(("a_first.txt", "file", "fine"), entry, ("z_last.txt", "file", "fine"))
    with pytest.raises(UnsafeArchiveError, match="entry"):
        safe_extract(archive, dest)
    assert _tree(tmp_path) == {"work"}  # not even the harmless entries
    assert not Path("/tmp/aarlab-escaped-absolute.txt").exists()


def test_a_symlink_already_in_the_target_cannot_redirect_a_write(tmp_path: Path) -> None:
    dest, outside = tmp_path / "work", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "sub").symlink_to(outside)
    with pytest.raises(UnsafeArchiveError, match="symlink"):
        safe_extract(craft_tar(("sub/evil.py", "file", "pwned")), dest)
    assert list(outside.iterdir()) == []


def test_a_file_and_a_directory_of_the_same_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeArchiveError, match="both a file and a directory"):
        safe_extract(craft_tar(("a", "file", "1"), ("a/b", "file", "2")), tmp_path / "w")
    assert not (tmp_path / "w" / "a").exists()


def test_pack_then_extract_round_trips_files_and_executable_bits(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "m.py").write_text("x = 1\n")
    (src / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(src / "run.sh", 0o755)
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref")
    written = safe_extract(pack_directory(src), tmp_path / "dst")
    assert sorted(p.relative_to(tmp_path / "dst").as_posix() for p in written) == ["pkg/m.py", "run.sh"]
    assert (tmp_path / "dst" / "pkg" / "m.py").read_text() == "x = 1\n"
    assert os.stat(tmp_path / "dst" / "run.sh").st_mode & 0o111


def test_symlinks_cannot_be_pushed(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(UnsafeArchiveError, match="symlink"):
        pack_directory(tmp_path / "ws")


def test_snapshot_pull_from_a_malicious_server_exits_with_an_error_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ForumClient, "snapshot_archive",
                        lambda self, sid: craft_tar(("ok.txt", "file", "x"), ("../../escaped.txt", "file", "pwned")))
    dest = tmp_path / "a" / "work"
    result = CliRunner().invoke(app, ["snapshot", "pull", "0" * 64, str(dest), "--server", "http://127.0.0.1:9",
                                      "--token", "t"])
    assert result.exit_code == 2
    assert "nothing written" in result.output and "escaped.txt" in result.output
    assert _tree(tmp_path) == {"a", "a/work"}


def test_a_symlinked_directory_fifo_or_socket_in_a_workspace_is_refused_promptly(tmp_path: Path) -> None:
    import socket

    from tests.test_agentfiles import finishes

    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("s")
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "linked").symlink_to(tmp_path / "outside")
    with pytest.raises(UnsafeArchiveError, match="sub/linked"):
        pack_directory(ws)
    (ws / "sub" / "linked").unlink()
    os.mkfifo(ws / "sub" / "pipe")
    with pytest.raises(UnsafeArchiveError, match="sub/pipe"):
        finishes(lambda: pack_directory(ws))
    (ws / "sub" / "pipe").unlink()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(ws / "sock"))
    try:
        with pytest.raises(UnsafeArchiveError, match="sock"):
            finishes(lambda: pack_directory(ws))
    finally:
        server.close()


def test_a_huge_workspace_file_is_refused_before_it_is_buffered(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    with open(tmp_path / "ws" / "huge.bin", "wb") as fh:
        fh.truncate(4 << 30)  # sparse
    with pytest.raises(UnsafeArchiveError, match="huge.bin"):
        pack_directory(tmp_path / "ws")


def test_extracting_never_writes_through_a_link_planted_in_the_target(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("new")
    archive = pack_directory(tmp_path / "src")
    (tmp_path / "outside").mkdir()
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "a.txt").symlink_to(tmp_path / "outside" / "victim")
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, tmp_path / "dst")
    assert not (tmp_path / "outside" / "victim").exists()
