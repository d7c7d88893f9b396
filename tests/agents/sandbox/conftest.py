"""Fixtures: a fake host around one agent's sandbox (a state dir with ground truth outside the workspace)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from aarlab.agents.sandbox import BubblewrapSandbox, SandboxError, SandboxLimits, find_bwrap


def _bwrap_problem() -> str | None:
    try:
        bwrap = find_bwrap()
    except SandboxError as err:
        return str(err)
    probe = subprocess.run([bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"bwrap cannot create namespaces here: {probe.stderr.strip()}"


BWRAP_PROBLEM = _bwrap_problem()
needs_bwrap = pytest.mark.skipif(BWRAP_PROBLEM is not None, reason=f"real bubblewrap needed: {BWRAP_PROBLEM}")


@dataclass
class Host:
    """Host-side paths of one sandboxed agent and of the secrets around it."""

    workspace: Path
    visible: Path
    state: Path
    ground_truth: Path
    secret: str


@pytest.fixture
def host(tmp_path: Path) -> Host:
    """A workspace and a visible-data dir, beside a server state dir whose ground truth must stay out of reach."""
    workspace, visible, state = tmp_path / "agents" / "a" / "workspace", tmp_path / "visible", tmp_path / "state"
    for path in (workspace, visible / "math", state):
        path.mkdir(parents=True)
    (visible / "math" / "test.jsonl").write_text('{"id": "t1", "txt": "2+2=4?"}\n')
    secret = "GROUND-TRUTH-" + tmp_path.name
    ground_truth = state / "ground_truth.jsonl"
    ground_truth.write_text(f'{{"id": "t1", "label": true, "secret": "{secret}"}}\n')
    return Host(workspace, visible, state, ground_truth, secret)


@pytest.fixture
def make_sandbox(host: Host) -> Callable[..., BubblewrapSandbox]:
    """A bubblewrap sandbox over the host's workspace (limits and socket per test)."""

    def make(limits: SandboxLimits | None = None, **kwargs: object) -> BubblewrapSandbox:
        return BubblewrapSandbox(host.workspace, visible_data=host.visible, token="token-of-a",
                                 limits=limits or SandboxLimits(wall_s=120), **kwargs)  # type: ignore[arg-type]

    return make
