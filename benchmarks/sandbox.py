"""Sandbox benchmark: bubblewrap launch overhead per command and an agent tool's round trip to the scoring service.

    python benchmarks/sandbox.py [--runs 100]

Launch overhead: median / p95 of ``BubblewrapSandbox.exec(["/bin/true"])`` (fresh namespaces, mounts, a per-command
cgroup, output capture) minus the same for a direct ``subprocess.run(["/bin/true"])``; then the same for
``python -c pass``. Target: <= 20 ms per command. Round trip: a scoring-service call (``whoami``) from inside the
sandbox through the bound Unix socket, with curl and with the Python client (interpreter start-up included), next
to the same call made directly on the host. Starts a scoring server on a fake suite in a temp dir; stops by itself.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aarlab.agents.sandbox import BubblewrapSandbox, SandboxLimits, sandbox_python  # noqa: E402
from aarlab.client import ScoringClient  # noqa: E402
from tests.server.conftest import TEST_SETTINGS, start_server  # noqa: E402
from tests.server.fakesuite import write_fake_suite  # noqa: E402

WHOAMI = ("import os\nfrom aarlab.client import ScoringClient\n"
          "with ScoringClient(os.environ['AARLAB_SERVER'], os.environ['AARLAB_TOKEN']) as c: c.whoami()")


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds per call, after one warm-up call."""
    fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(ms: list[float]) -> tuple[float, float]:
    """(median, p95)."""
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def report(name: str, ms: list[float], baseline: list[float] | None = None) -> None:
    """Print one row (and the overhead over ``baseline`` when given)."""
    med, p95 = summary(ms)
    row = f"{name:<44} median {med:8.2f} ms   p95 {p95:8.2f} ms"
    if baseline is not None:
        bmed, bp95 = summary(baseline)
        row += f"   overhead median {med - bmed:7.2f} ms  p95 {p95 - bp95:7.2f} ms"
    print(row, flush=True)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="Commands per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aarlab-bench-") as tmp:
        root = Path(tmp)
        (root / "ws").mkdir()
        running = start_server(write_fake_suite(root / "home"), root / "state", None, TEST_SETTINGS)
        try:
            token = running.add_agent(name="bench")
            socket_path = Path(running.uds_url.removeprefix("unix://"))
            sandbox = BubblewrapSandbox(root / "ws", scoring_socket=socket_path, token=token,
                                        limits=SandboxLimits(wall_s=60))
            print(f"limits enforced by: {sandbox.exec(['/bin/true']).enforced_by}")
            direct_true = timed(lambda: subprocess.run(["/bin/true"], capture_output=True), args.runs)
            report("direct /bin/true", direct_true)
            report("sandbox /bin/true", timed(lambda: sandbox.exec(["/bin/true"]), args.runs), direct_true)
            python = [sandbox_python(), "-c", "pass"]
            direct_py = timed(lambda: subprocess.run(python, capture_output=True), args.runs // 2)
            report("direct python -c pass", direct_py)
            report("sandbox python -c pass", timed(lambda: sandbox.exec(python), args.runs // 2), direct_py)
            with ScoringClient(running.uds_url, token) as client:
                report("host: client.whoami() over the socket (warm)", timed(client.whoami, args.runs))
            if shutil.which("curl"):
                curl_check = sandbox.exec(["curl", "-sf", "--unix-socket", "/run/aarlab/scoring.sock", "-H",
                                           f"Authorization: Bearer {token}", "http://aarlab/api/v1/whoami"])
                assert curl_check.exit_code == 0 and "bench" in curl_check.stdout, curl_check
                curl = ["curl", "-sf", "--unix-socket", "/run/aarlab/scoring.sock", "-H", f"Authorization: Bearer "
                        f"{token}", "http://aarlab/api/v1/whoami"]
                report("sandbox: curl whoami over the socket", timed(lambda: sandbox.exec(curl), args.runs))
            client_py = [sandbox_python(), "-c", WHOAMI]
            result = sandbox.exec(client_py)
            assert result.exit_code == 0, result.stderr
            report("sandbox: python ScoringClient.whoami()", timed(lambda: sandbox.exec(client_py), 10))
        finally:
            running.stop()


if __name__ == "__main__":
    main()
