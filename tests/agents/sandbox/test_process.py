"""The supervisor of one command: nothing it started survives an interruption."""

import os
import subprocess

import pytest

from aarlab.agents.sandbox import SandboxLimits
from aarlab.agents.sandbox import _process as process


def test_an_interrupted_supervisor_kills_the_command_before_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def interrupted(proc: subprocess.Popen[bytes], *_args: object) -> bool:
        started.append(proc)
        raise KeyboardInterrupt

    monkeypatch.setattr(process, "_collect", interrupted)
    with pytest.raises(KeyboardInterrupt):
        process.run_limited(["sleep", "30"], env=dict(os.environ), timeout_s=60, limits=SandboxLimits(),
                            use_cgroups=False)
    assert started and started[0].poll() is not None
