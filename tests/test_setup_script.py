"""scripts/setup.sh's apt installs: one line when they work, apt's own output only when they fail."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SETUP = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"


def _apt_install(tmp_path: Path, apt_exit: int) -> subprocess.CompletedProcess[str]:
    """Run setup.sh's ``apt_install`` with a fake apt-get that chatters like debconf and exits ``apt_exit``."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text("#!/bin/sh\necho \"debconf: unable to initialize frontend: Dialog ($*)\"\n"
                                  f"echo \"frontend=$DEBIAN_FRONTEND\" >&2\nexit {apt_exit}\n")
    (fake / "apt-get").chmod(0o755)
    script = f'eval "$(sed -n \'/^quietly()/,/^}}/p;/^apt_install()/,/^}}/p\' {SETUP})"; apt_install bubblewrap'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})


def test_a_working_apt_install_announces_itself_in_one_line(tmp_path: Path) -> None:
    result = _apt_install(tmp_path, 0)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.splitlines() == ["installing bubblewrap with apt-get ..."]


def test_a_failing_apt_install_shows_apts_output_noninteractive(tmp_path: Path) -> None:
    result = _apt_install(tmp_path, 100)
    assert result.returncode == 1
    assert "debconf: unable to initialize frontend" in result.stderr and "frontend=noninteractive" in result.stderr


def test_a_quiet_step_says_what_it_does_first_and_shows_output_only_on_failure() -> None:
    helper = f'eval "$(sed -n \'/^quietly()/,/^}}/p\' {SETUP})"; '
    ok = subprocess.run(["bash", "-c", helper + 'quietly "installing things" sh -c "echo noise; echo warn >&2"'],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == "installing things ...\n"
    bad = subprocess.run(["bash", "-c", helper + 'quietly "installing things" sh -c "echo why it broke; exit 3"'],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and bad.stderr == "installing things ...\nwhy it broke\n"
