"""A suite's build secret: drawn once, kept 0600 in the suite root, reused by a rebuild, refused when tampered."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aarlab.suites._secret import SECRET_FILE, BuildSecretError, load_or_create_build_secret


def test_a_first_build_draws_a_secret_only_its_owner_can_read(tmp_path: Path) -> None:
    secret = load_or_create_build_secret(tmp_path / "suite")
    path = tmp_path / "suite" / SECRET_FILE
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == secret


def test_a_rebuild_keeps_the_secret_already_there(tmp_path: Path) -> None:
    first = load_or_create_build_secret(tmp_path)
    assert load_or_create_build_secret(tmp_path) == first
    assert load_or_create_build_secret(tmp_path / "other") != first


def test_a_secret_file_with_loose_permissions_is_tightened(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("ab" * 32 + "\n")
    (tmp_path / SECRET_FILE).chmod(0o644)
    assert load_or_create_build_secret(tmp_path) == "ab" * 32
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["", "not hex at all", "ab" * 8])
def test_a_malformed_secret_is_refused_with_what_to_do(tmp_path: Path, content: str) -> None:
    (tmp_path / SECRET_FILE).write_text(content)
    with pytest.raises(BuildSecretError, match="delete it to draw a new secret"):
        load_or_create_build_secret(tmp_path)


def test_a_secret_that_is_a_link_or_a_fifo_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("ab" * 32)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / SECRET_FILE).symlink_to(target)
    with pytest.raises(BuildSecretError, match="not a link"):
        load_or_create_build_secret(tmp_path / "a")
    (tmp_path / "b").mkdir()
    os.mkfifo(tmp_path / "b" / SECRET_FILE)
    with pytest.raises(BuildSecretError, match="not a regular file"):
        load_or_create_build_secret(tmp_path / "b")
