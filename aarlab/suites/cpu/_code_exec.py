"""Label code candidates by running the problem's tests at build time, isolated, with a timeout per candidate.

Isolation: all candidates of one problem run in one bubblewrap instance (the project's agent sandbox:
fresh namespaces, no network, read-only system, an empty temp workspace) when ``bwrap`` is installed; otherwise in
a plain subprocess (``python -I``, an empty temp working directory, CPU and memory rlimits) -- weaker isolation,
acceptable for HumanEval's own canonical solutions and their mutants, and the build report says which was used.
Inside, a small runner forks one child per candidate (CPU-time and address-space rlimits, output discarded) and
kills it after ``timeout_s``: an infinite loop is a failing candidate, not a stuck build.

The test code only ever lives in this process's memory and the runner's stdin; it is never written to a dataset.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

Isolation = Literal["bubblewrap", "subprocess"]

#: Runs inside the sandbox: reads {"programs": [...], "timeout_s": t} on stdin, prints one JSON list of outcomes
#: ("pass" | "fail" | "timeout") in order.
RUNNER = r"""
import json, os, resource, signal, sys, time
job = json.load(sys.stdin)
outcomes = []
for program in job["programs"]:
    pid = os.fork()
    if pid == 0:
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (int(job["timeout_s"]) + 1, int(job["timeout_s"]) + 2))
            resource.setrlimit(resource.RLIMIT_AS, (job["memory_bytes"], job["memory_bytes"]))
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            exec(compile(program, "<candidate>", "exec"), {"__name__": "__candidate__"})
        except BaseException:
            os._exit(1)
        os._exit(0)
    deadline = time.monotonic() + job["timeout_s"]
    outcome = None
    while outcome is None:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            outcome = "pass" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else "fail"
        elif time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            outcome = "timeout"
        else:
            time.sleep(0.002)
    outcomes.append(outcome)
print(json.dumps(outcomes))
"""


class CodeExecutionError(RuntimeError):
    """The test runner itself failed (not a candidate): the message has its exit code and stderr."""


def checked_program(prompt: str, body: str, test: str, entry_point: str) -> str:
    """The program that passes (exits normally) exactly when the candidate passes the problem's tests."""
    return f"{prompt}{body}\n\n{test}\n\ncheck({entry_point})\n"


def default_isolation() -> Isolation:
    """Bubblewrap when installed, else a plain rlimited subprocess."""
    import shutil

    return "bubblewrap" if shutil.which("bwrap") else "subprocess"


def run_programs(programs: Sequence[str], *, timeout_s: float = 3.0, memory_mb: int = 1024,
                 isolation: Isolation | None = None) -> list[str]:
    """Outcome of each program, ``"pass"``, ``"fail"`` or ``"timeout"``, run isolated (see the module doc)."""
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, found {timeout_s}")
    if not programs:
        return []
    isolation = isolation or default_isolation()
    job = json.dumps({"programs": list(programs), "timeout_s": timeout_s, "memory_bytes": memory_mb * 2**20})
    overall = timeout_s * len(programs) + 30
    with tempfile.TemporaryDirectory(prefix="aarlab-code-") as tmp:
        if isolation == "bubblewrap":
            from aarlab.agents.sandbox import BubblewrapSandbox, SandboxLimits, sandbox_python

            sandbox = BubblewrapSandbox(Path(tmp), limits=SandboxLimits(wall_s=overall, memory_mb=memory_mb * 2))
            result = sandbox.exec([sandbox_python(), "-I", "-c", RUNNER], stdin=job, timeout_s=overall)
            code, stdout, stderr = result.exit_code, result.stdout, result.stderr
        else:
            proc = subprocess.run([sys.executable, "-I", "-c", RUNNER], input=job, capture_output=True, text=True,
                                  cwd=tmp, timeout=overall, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
            code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    if code != 0:
        raise CodeExecutionError(f"the {isolation} test runner exited {code}: {stderr.strip()[-2000:]}")
    outcomes = json.loads(stdout.strip().splitlines()[-1])
    if len(outcomes) != len(programs):
        raise CodeExecutionError(f"the test runner returned {len(outcomes)} outcomes for {len(programs)} programs")
    return [str(o) for o in outcomes]
