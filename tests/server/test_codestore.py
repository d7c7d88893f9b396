"""Snapshot uploads are checked entry by entry; ids are content addresses; the blob store round-trips."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import pytest

from aarlab.server._codestore import BlobStore, SnapshotLimits, SnapshotRejected, read_file_list, read_tar_gz
from tests.server.helpers import craft_tar

LIMITS = SnapshotLimits(max_total_bytes=1000, max_files=5, max_file_bytes=400)


def _rejected(data: bytes, limits: SnapshotLimits = LIMITS) -> SnapshotRejected:
    with pytest.raises(SnapshotRejected) as err:
        read_tar_gz(data, limits)
    return err.value


@pytest.mark.parametrize(("entry", "says"), [
    (("../evil.py", "file", "x"), "'..'"),
    (("a/../../evil.py", "file", "x"), "'..'"),
    (("/etc/passwd", "file", "x"), "absolute"),
    (("link", "symlink", "/etc/passwd"), "symlink"),
    (("hard", "hardlink", "/etc/passwd"), "hard link"),
    (("dev", "device", ""), "special file"),
    (("a\\\\b.py", "file", "x"), "backslash"),
])
def test_unsafe_entries_are_rejected_naming_the_entry(entry: tuple[str, str, str], says: str) -> None:
    err = _rejected(craft_tar(("ok.py", "file", "print(1)"), entry))
    assert says in str(err) and repr(entry[0]) in str(err) and err.status == 422


def test_size_and_count_limits_answer_413_naming_the_entry() -> None:
    big = _rejected(craft_tar(("big.bin", "file", b"x" * 401)))
    assert big.status == 413 and "'big.bin'" in str(big)
    total = _rejected(craft_tar(*[(f"f{i}", "file", b"x" * 300) for i in range(4)]))
    assert total.status == 413 and "'f3'" in str(total)
    many = _rejected(craft_tar(*[(f"f{i}", "file", "x") for i in range(6)]))
    assert many.status == 413 and "more than 5 files" in str(many)


def test_duplicates_and_file_directory_clashes_are_rejected() -> None:
    assert "duplicate" in str(_rejected(craft_tar(("a", "file", "1"), ("./a", "file", "2"))))
    assert "both a file and a directory" in str(_rejected(craft_tar(("a", "file", "1"), ("a/b", "file", "2"))))


def test_a_tar_of_dot_with_its_root_entry_is_accepted() -> None:
    files = read_tar_gz(craft_tar(("./", "dir", ""), ("./src/", "dir", ""), ("./src/m.py", "file", "x")), LIMITS)
    assert [f.path for f in files] == ["src/m.py"]


def test_garbage_is_not_an_archive() -> None:
    assert "not a readable tar" in str(_rejected(b"definitely not gzip"))


def test_json_file_list_is_checked_like_an_archive() -> None:
    good = [{"path": "b.py", "content_b64": base64.b64encode(b"b").decode()},
            {"path": "a.sh", "content_b64": base64.b64encode(b"a").decode(), "executable": True}]
    files = read_file_list(good, LIMITS)
    assert [(f.path, f.executable) for f in files] == [("a.sh", True), ("b.py", False)]
    cases = (([{"path": "../x", "content_b64": ""}], "'..'"), ([{"path": "x", "content_b64": "!!"}], "base64"),
             ([{"path": "x", "content_b64": "", "executable": "yes"}], "executable"))
    for bad, says in cases:
        with pytest.raises(SnapshotRejected, match=says):
            read_file_list(bad, LIMITS)


def test_same_content_gets_the_same_id_in_any_order_and_different_content_another(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "store"))
    one = read_tar_gz(craft_tar(("a", "file", "1"), ("b/c", "file", "2")), LIMITS)
    two = read_tar_gz(craft_tar(("b/c", "file", "2"), ("./a", "file", "1")), LIMITS)
    three = read_tar_gz(craft_tar(("a", "file", "1"), ("b/c", "file", "3")), LIMITS)
    assert store.put(one)[0] == store.put(two)[0] != store.put(three)[0]


def test_the_store_round_trips_files_and_modes_and_ignores_non_ids(tmp_path: Path) -> None:
    store = BlobStore(f"file://{tmp_path / 'store'}")
    files = read_file_list([{"path": "run.sh", "content_b64": base64.b64encode(b"#!/bin/sh").decode(),
                             "executable": True}], LIMITS)
    sid, manifest = store.put(files)
    assert store.manifest(sid) == manifest and store.manifest("../../etc/passwd") is None
    with tarfile.open(fileobj=io.BytesIO(store.tar_gz(manifest))) as archive:
        member = archive.getmember("run.sh")
        assert member.mode & 0o111 and archive.extractfile(member).read() == b"#!/bin/sh"  # type: ignore[union-attr]
