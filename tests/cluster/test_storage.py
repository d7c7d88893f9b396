"""Campaign storage: archives of agent-written trees read as an adversary left them, on a directory and on S3."""

from __future__ import annotations

import io
import os
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest

from aarlab.cluster import CampaignStore, Storage, StorageError, pack_tree, unpack_tree
from tests.cluster.s3 import BUCKET, S3Server


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_pack_and_unpack_round_trip_regular_files_and_empty_dirs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "a" / "b" / "x.txt").write_text("hello")
    (src / "top.bin").write_bytes(bytes(range(256)) * 10)
    data, report = pack_tree(src)
    assert report.files == 2 and report.skipped == []
    unpack_tree(data, tmp_path / "dst")
    assert _tree(tmp_path / "dst") == _tree(src)
    assert (tmp_path / "dst" / "empty").is_dir()


def test_planted_symlinks_fifos_and_sockets_are_skipped_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("ground truth")
    src = tmp_path / "ws"
    src.mkdir()
    (src / "ok.txt").write_text("fine")
    (src / "link").symlink_to(secret)
    (src / "dirlink").symlink_to(tmp_path)
    os.mkfifo(src / "fifo")  # reading it would block the host forever
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock"))
    try:
        data, report = pack_tree(src)
    finally:
        sock.close()
    unpack_tree(data, tmp_path / "dst")
    assert _tree(tmp_path / "dst") == {"ok.txt": b"fine"}
    assert not any(b"ground truth" in v for v in _tree(tmp_path / "dst").values())
    assert sorted(s.split(" ")[0] for s in report.skipped) == ["dirlink", "fifo", "link", "sock"]  # none followed
    assert not (tmp_path / "dst" / "dirlink").exists()


def test_huge_files_and_trees_are_bounded(tmp_path: Path) -> None:
    src = tmp_path / "ws"
    src.mkdir()
    (src / "big").write_bytes(b"x" * 5000)
    for i in range(5):
        (src / f"f{i}").write_bytes(b"y" * 400)
    data, report = pack_tree(src, max_file_bytes=1000, max_bytes=1000)
    assert report.files == 2 and report.bytes == 800
    assert any(s.startswith("big (5000 bytes") for s in report.skipped)
    assert sum("archive would pass" in s for s in report.skipped) == 3


def test_a_file_swapped_for_a_fifo_after_listing_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aarlab.cluster._storage as storage

    src = tmp_path / "ws"
    src.mkdir()
    (src / "f").write_text("x")
    real_walk = storage._walk

    def swapping_walk(root: Path, exclude: frozenset[str]):  # noqa: ANN202
        for rel, st in real_walk(root, exclude):
            (root / rel).unlink()
            os.mkfifo(root / rel)  # the agent swaps it between our listing and our open
            yield rel, st

    monkeypatch.setattr(storage, "_walk", swapping_walk)
    done = threading.Event()
    result: list[object] = []
    thread = threading.Thread(target=lambda: (result.append(pack_tree(src)), done.set()), daemon=True)
    thread.start()
    assert done.wait(10), "packing blocked on a FIFO"
    _, report = result[0]  # type: ignore[misc]
    assert report.files == 0 and report.skipped == ["f (not a regular file)"]


def test_sqlite_databases_are_copied_consistently_while_written(tmp_path: Path) -> None:
    src = tmp_path / "ws"
    src.mkdir()
    db = sqlite3.connect(src / "study.db")
    db.execute("create table t (i integer)")
    db.commit()
    db.execute("insert into t values (1)")  # an open transaction: not in the checkpoint, and no torn file
    data, report = pack_tree(src)
    db.rollback()
    db.close()
    unpack_tree(data, tmp_path / "dst")
    copy = sqlite3.connect(tmp_path / "dst" / "study.db")
    assert copy.execute("pragma integrity_check").fetchone() == ("ok",)
    assert copy.execute("select count(*) from t").fetchone() == (0,)
    copy.close()


def _archive(*members: tarfile.TarInfo, payload: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(payload) if member.isfile() else None)
    return buffer.getvalue()


@pytest.mark.parametrize("member", [
    ("../escape", tarfile.REGTYPE, ""), ("/etc/evil", tarfile.REGTYPE, ""), ("link", tarfile.SYMTYPE, "/etc/passwd"),
    ("hard", tarfile.LNKTYPE, "x"), ("dev", tarfile.CHRTYPE, ""), ("fifo", tarfile.FIFOTYPE, ""),
], ids=["dotdot", "absolute", "symlink", "hardlink", "device", "fifo"])
def test_unpacking_refuses_anything_but_files_and_dirs_inside_the_target(tmp_path: Path,
                                                                        member: tuple[str, bytes, str]) -> None:
    name, kind, target = member
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, target, 1 if kind == tarfile.REGTYPE else 0
    with pytest.raises(StorageError):
        unpack_tree(_archive(info), tmp_path / "dst")
    assert not (tmp_path / "escape").exists()


def test_unpacking_is_bounded(tmp_path: Path) -> None:
    info = tarfile.TarInfo("big")
    info.size = 10_000
    with pytest.raises(StorageError, match="more than 1000 bytes"):
        unpack_tree(_archive(info, payload=b"z" * 10_000), tmp_path / "dst", max_bytes=1000)


def test_local_storage_put_get_version_keys(tmp_path: Path) -> None:
    storage = Storage((tmp_path / "store").as_uri())
    storage.check()
    assert storage.get("a/b") is None and storage.version("a/b") is None
    storage.put("a/b", b"one")
    first = storage.version("a/b")
    storage.put("a/b", b"two!")
    assert storage.get("a/b") == b"two!" and storage.version("a/b") != first
    assert storage.keys() == ["a/b"]
    for bad in ("", "/abs", "a/../b"):
        with pytest.raises(StorageError, match="invalid storage key"):
            storage.put(bad, b"")


def test_s3_storage_round_trips_trees_on_a_real_s3_server(s3_env: S3Server, tmp_path: Path) -> None:
    storage = Storage(f"s3://{BUCKET}/t1")
    storage.check()
    src = tmp_path / "ws"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f.txt").write_text("on s3")
    storage.put_tree("x/tree.tar.gz", src)
    assert storage.keys() == ["x/tree.tar.gz"]
    version = storage.version("x/tree.tar.gz")
    assert storage.get_tree("x/tree.tar.gz", tmp_path / "back")
    assert (tmp_path / "back" / "d" / "f.txt").read_text() == "on s3"
    storage.put_tree("x/tree.tar.gz", src, exclude=("d",))
    assert storage.version("x/tree.tar.gz") != version
    assert not storage.get_tree("x/none.tar.gz", tmp_path / "none")


def test_bad_credentials_and_missing_buckets_fail_fast_naming_the_problem(s3_env: S3Server,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(StorageError, match=rf"s3://{BUCKET}/t2: cannot write .*(signature|Signature|credential)"):
        Storage(f"s3://{BUCKET}/t2").check()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_env.secret)
    with pytest.raises(StorageError, match="bucket does not exist"):
        Storage("s3://no-such-bucket/t2").check()


def test_mirroring_never_takes_the_token_or_assignment_from_a_node(tmp_path: Path) -> None:
    store = CampaignStore(Storage((tmp_path / "store").as_uri()), "c1")
    head = tmp_path / "head"
    agent = head / "agents" / "a1"
    agent.mkdir(parents=True)
    (agent / "token").write_text("head-token")
    (agent / "agent.json").write_text("{}")
    node = tmp_path / "node"
    (node / "agents" / "a1" / "workspace").mkdir(parents=True)
    (node / "agents" / "a1" / "workspace" / "w.txt").write_text("work")
    (node / "agents" / "a1" / "token").write_text("node-token")
    (node / "agents" / "a1" / "agent.log").write_text("log line")
    store.checkpoint(node, "a1")
    assert store.mirror(head, "a1")
    assert (agent / "token").read_text() == "head-token"
    assert (agent / "workspace" / "w.txt").read_text() == "work"
    assert (head / "logs" / "a1.log").read_text() == "log line"
    assert not store.mirror(head, "a1")  # unchanged: nothing copied again
