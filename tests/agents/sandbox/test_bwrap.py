"""BubblewrapSandbox set-up: what is mounted, and the errors before anything runs."""

import os
from pathlib import Path

import pytest

import aarlab
from aarlab.agents.sandbox import BubblewrapSandbox, SandboxError, python_mounts
from aarlab.agents.sandbox import _bwrap as bwrap_module


def test_missing_bubblewrap_names_the_package_and_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.setattr(bwrap_module.shutil, "which", lambda name: None)
    with pytest.raises(SandboxError, match=r"package `bubblewrap` \(`apt-get install bubblewrap`"):
        BubblewrapSandbox(tmp_path)


def test_a_missing_workspace_is_reported_before_starting(tmp_path: Path) -> None:
    pytest.importorskip("shutil").which("bwrap") or pytest.skip("bwrap not installed")
    with pytest.raises(SandboxError, match="workspace .*does not exist"):
        BubblewrapSandbox(tmp_path / "nope")


def test_the_python_mounts_hold_the_package_but_not_the_repository_around_it() -> None:
    package = Path(aarlab.__file__).resolve().parent
    mounts = python_mounts()
    assert any(m == package or m in package.parents for m in mounts)
    assert package.parent not in mounts or package.parent.name in ("site-packages", "dist-packages")
    assert Path.home() not in mounts and Path("/") not in mounts


def test_an_extra_mount_around_the_workspace_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("shutil").which("bwrap") or pytest.skip("bwrap not installed")
    (tmp_path / "ws").mkdir()
    with pytest.raises(SandboxError, match="would expose the host"):
        BubblewrapSandbox(tmp_path / "ws", extra_ro=[tmp_path])


def test_a_read_only_mount_under_tmp_is_not_hidden_by_the_private_tmp(tmp_path: Path) -> None:
    pytest.importorskip("shutil").which("bwrap") or pytest.skip("bwrap not installed")
    (tmp_path / "ws").mkdir()
    models = tmp_path / "models"  # pytest's tmp_path lives under /tmp, like a checkout or venv might
    models.mkdir()
    (models / "weights.txt").write_text("w")
    sandbox = BubblewrapSandbox(tmp_path / "ws", extra_ro=[models])
    args, fds = sandbox.command(["true"])
    for fd in fds:
        os.close(fd)
    assert args.index("--tmpfs") < args.index(str(models))
    assert sandbox.exec(["cat", str(models / "weights.txt")]).stdout == "w"
