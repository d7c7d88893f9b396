"""Host-side access to agent-controlled files: links, FIFOs, sockets and huge files are refused, never followed."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aarlab._agentfiles import (
    UnsafeAgentFile,
    list_agent_dir,
    read_agent_file,
    read_agent_text,
    walk_agent_files,
    write_agent_file,
)

SECRET = b"admin-token-0123456789"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(SECRET)
    work = tmp_path / "workspace"
    work.mkdir()
    return work


def finishes(fn: Callable[[], Any], seconds: float = 10.0) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging the test run) when it blocks."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call blocked"
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture
def unix_socket(root: Path) -> Iterator[Path]:
    path = root / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    yield path
    server.close()


def test_a_regular_file_is_read_whole(root: Path) -> None:
    (root / "notes.md").write_text("hello")
    assert read_agent_text(root, "notes.md", 100) == "hello"


def test_a_missing_file_is_file_not_found(root: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_agent_file(root, "absent.md", 100)


def test_a_symlink_to_a_secret_outside_is_refused_without_its_content(root: Path) -> None:
    (root / "NOTEBOOK.md").symlink_to(root.parent / "outside" / "secret")
    with pytest.raises(UnsafeAgentFile, match="symlink") as err:
        read_agent_file(root, "NOTEBOOK.md", 1000)
    assert SECRET.decode() not in str(err.value)


def test_a_symlink_pointing_inside_the_root_is_refused_too(root: Path) -> None:
    (root / "real.md").write_text("x")
    (root / "alias.md").symlink_to("real.md")
    with pytest.raises(UnsafeAgentFile, match="symlink"):
        read_agent_file(root, "alias.md", 1000)


def test_a_symlinked_parent_directory_is_refused(root: Path) -> None:
    (root / "sub").symlink_to(root.parent / "outside")
    with pytest.raises(UnsafeAgentFile, match="expected a directory, found a symlink"):
        read_agent_file(root, "sub/secret", 1000)


def test_a_fifo_is_refused_promptly(root: Path) -> None:
    os.mkfifo(root / "NOTEBOOK.md")
    with pytest.raises(UnsafeAgentFile, match="FIFO"):
        finishes(lambda: read_agent_file(root, "NOTEBOOK.md", 1000))


def test_a_socket_is_refused(root: Path, unix_socket: Path) -> None:
    with pytest.raises(UnsafeAgentFile, match="socket"):
        finishes(lambda: read_agent_file(root, unix_socket.name, 1000))


def test_a_directory_is_refused_as_a_file(root: Path) -> None:
    (root / "d").mkdir()
    with pytest.raises(UnsafeAgentFile, match="directory"):
        read_agent_file(root, "d", 1000)


def test_a_huge_file_is_refused_or_read_only_up_to_the_limit(root: Path) -> None:
    with open(root / "huge.log", "wb") as fh:
        fh.truncate(8 << 30)  # sparse: 8 GiB that take no disk
    with pytest.raises(UnsafeAgentFile, match="more than the limit of 4096"):
        read_agent_file(root, "huge.log", 4096)
    assert len(read_agent_file(root, "huge.log", 4096, truncate=True)) == 4096


@pytest.mark.parametrize("relpath", ["/etc/passwd", "../outside/secret", "a/../../outside/secret", "", "x\x00y"])
def test_absolute_climbing_or_malformed_paths_are_refused(root: Path, relpath: str) -> None:
    with pytest.raises(UnsafeAgentFile):
        read_agent_file(root, relpath, 1000)


def test_a_write_replaces_a_regular_file(root: Path) -> None:
    (root / "last_trial.log").write_text("old")
    write_agent_file(root, "last_trial.log", "new")
    assert (root / "last_trial.log").read_text() == "new"
    assert [e.name for e in list_agent_dir(root)] == ["last_trial.log"]  # no temporary file left


def test_a_write_through_a_planted_symlink_is_refused_and_the_target_unchanged(root: Path) -> None:
    target = root.parent / "outside" / "secret"
    (root / "last_trial.log").symlink_to(target)
    with pytest.raises(UnsafeAgentFile, match="symlink"):
        write_agent_file(root, "last_trial.log", "overwritten")
    assert target.read_bytes() == SECRET
    assert (root / "last_trial.log").is_symlink()


def test_a_write_through_a_symlinked_parent_directory_is_refused(root: Path) -> None:
    (root / "logs").symlink_to(root.parent / "outside")
    with pytest.raises(UnsafeAgentFile, match="symlink"):
        write_agent_file(root, "logs/new.log", "x")
    assert sorted(p.name for p in (root.parent / "outside").iterdir()) == ["secret"]


def test_a_write_creates_missing_parent_directories(root: Path) -> None:
    write_agent_file(root, "a/b/c.txt", b"x")
    assert (root / "a" / "b" / "c.txt").read_bytes() == b"x"


def test_writing_or_appending_to_a_fifo_is_refused_promptly(root: Path) -> None:
    os.mkfifo(root / "submissions.jsonl")
    with pytest.raises(UnsafeAgentFile, match="FIFO"):
        finishes(lambda: write_agent_file(root, "submissions.jsonl", "x", append=True))
    with pytest.raises(UnsafeAgentFile, match="FIFO"):
        finishes(lambda: write_agent_file(root, "submissions.jsonl", "x"))


def test_append_adds_to_a_regular_file_and_refuses_a_symlink(root: Path) -> None:
    write_agent_file(root, "log.jsonl", "a\n", append=True)
    write_agent_file(root, "log.jsonl", "b\n", append=True)
    assert (root / "log.jsonl").read_text() == "a\nb\n"
    (root / "linked.jsonl").symlink_to(root.parent / "outside" / "secret")
    with pytest.raises(UnsafeAgentFile):
        write_agent_file(root, "linked.jsonl", "c\n", append=True)
    assert (root.parent / "outside" / "secret").read_bytes() == SECRET


def test_a_write_larger_than_its_limit_is_refused(root: Path) -> None:
    with pytest.raises(UnsafeAgentFile, match="limit of 3"):
        write_agent_file(root, "x", b"1234", limit=3)
    assert not (root / "x").exists()


def test_listing_names_each_entry_kind_without_following_links(root: Path, unix_socket: Path) -> None:
    (root / "f").write_text("12")
    (root / "d").mkdir()
    (root / "l").symlink_to(root.parent / "outside")
    os.mkfifo(root / "p")
    kinds = {e.name: e.kind for e in list_agent_dir(root)}
    assert kinds == {"f": "file", "d": "dir", "l": "symlink", "p": "other", unix_socket.name: "other"}


def test_walking_lists_regular_files_and_refuses_a_link_anywhere(root: Path) -> None:
    (root / "a").mkdir()
    (root / "a" / "x.py").write_text("1")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    assert list(walk_agent_files(root, exclude=(".git",))) == [("a/x.py", 1)]
    (root / "a" / "evil").symlink_to(root.parent / "outside")
    with pytest.raises(UnsafeAgentFile, match="a/evil"):
        list(walk_agent_files(root, exclude=(".git",)))


def test_a_replaced_file_keeps_its_permission_bits_unless_told_otherwise(root: Path) -> None:
    (root / "run.sh").write_text("echo 1\n")
    (root / "run.sh").chmod(0o755)
    write_agent_file(root, "run.sh", "echo 2\n")
    assert (root / "run.sh").stat().st_mode & 0o777 == 0o755
    write_agent_file(root, "run.sh", "echo 3\n", mode=0o600)
    assert (root / "run.sh").stat().st_mode & 0o777 == 0o600
    write_agent_file(root, "new.txt", "x")
    assert (root / "new.txt").stat().st_mode & 0o777 == 0o644


def test_a_fifo_or_file_in_place_of_a_parent_directory_is_refused_promptly(root: Path) -> None:
    os.mkfifo(root / "pipe")
    (root / "plain").write_text("x")
    for relpath in ("pipe/x", "plain/x"):
        with pytest.raises(UnsafeAgentFile, match="expected a directory"):
            finishes(lambda relpath=relpath: read_agent_file(root, relpath, 10))
        with pytest.raises(UnsafeAgentFile, match="expected a directory"):
            finishes(lambda relpath=relpath: write_agent_file(root, relpath, "y"))
