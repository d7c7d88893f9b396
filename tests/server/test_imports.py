"""The server's import surface: no torch, and every export resolves."""

from __future__ import annotations

import subprocess
import sys

import aarlab.server


def test_the_server_never_imports_torch() -> None:
    code = ("import sys, aarlab.server, aarlab.client, aarlab.server.cli\n"
            "[getattr(aarlab.server, n) for n in aarlab.server.__all__]\n"
            "aarlab.server.create_app('/nonexistent')\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_every_export_resolves() -> None:
    for name in aarlab.server.__all__:
        assert getattr(aarlab.server, name) is not None
