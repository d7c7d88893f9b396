"""Sandbox benchmark: bubblewrap launch overhead per command, round trips to the scoring service, agent tools.

    python benchmarks/sandbox.py [--runs 100] [--home DIR]

Launch overhead: median / p95 of ``BubblewrapSandbox.exec(["/bin/true"])`` (fresh namespaces, mounts, the sandbox's
cgroups, output capture) minus the same for a direct ``subprocess.run(["/bin/true"])``, back to back and with 50 ms
between commands (time in which the sandbox prepares its next launcher, as while an agent thinks); then the same
for ``python -c pass``. Target: <= 20 ms per command. Round trip: a scoring-service call (``whoami``) from inside the
sandbox through the bound Unix socket, with curl and with the Python client (interpreter start-up included), next
to the same call made directly on the host. Starts a scoring server on a fake suite in a temp dir; stops by itself.

Agent tools (when the tiny suite is built in ``--home``): a one-agent campaign state in a temp dir and its scoring
service, then the tools' round trips as the LLM runtime calls them: ``shell`` with ``true``, ``read_file``,
``write_file``, and ``w2s_run`` of a built-in method in the probe lane (model load included).
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


def timed(fn: Callable[[], object], runs: int, pause_s: float = 0.0) -> list[float]:
    """Milliseconds per call, after one warm-up call; ``pause_s`` (not timed) between calls stands for the time an
    agent thinks between tool calls, in which a sandbox prepares its next launcher."""
    fn()
    out = []
    for _ in range(runs):
        time.sleep(pause_s)
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


def agent_tools(home: Path, runs: int) -> None:
    """Round trips of the agent tools on a one-agent campaign of the tiny suite."""
    from aarlab.agents.tools import build_toolbox
    from aarlab.campaign._run import ScoringServer, server_settings
    from aarlab.campaign._setup import setup_campaign
    from aarlab.campaign._state import AgentAssignment
    from aarlab.suites import is_built, load_suite

    if not is_built(load_suite("tiny", home)):
        print(f"agent tools: skipped (the tiny suite is not built in {home}; `aarlab suite build tiny`)")
        return
    with tempfile.TemporaryDirectory(prefix="aarb-") as tmp:
        state = Path(tmp) / "c"
        info = setup_campaign(state, suite="tiny", home=home, agents=1, kind="search", minutes=30, concurrency=1,
                              budget=10, trial_timeout_s=120, log=lambda _m: None)
        server = ScoringServer(state, info, server_settings(info.budget))
        server.start()
        try:
            name = info.agents[0].name
            assignment = AgentAssignment.model_validate_json((state / "agents" / name / "agent.json").read_text())
            toolbox = build_toolbox(state, assignment, (state / "agents" / name / "token").read_text().strip())

            def call(tool: str, arguments: dict[str, object]) -> Callable[[], object]:
                def run() -> object:
                    result = toolbox.call(tool, arguments)
                    assert not result.is_error, result.output
                    return result
                return run

            report("tool shell `true` (50 ms between)", timed(call("shell", {"command": "true"}), runs, 0.05))
            report("tool write_file (1 KB)", timed(call("write_file", {"path": "notes.txt", "content": "x" * 1024}),
                                                   runs))
            report("tool read_file (1 KB)", timed(call("read_file", {"path": "notes.txt"}), runs))
            dataset = assignment.datasets[0]
            report(f"tool w2s_run vanilla probe lane ({dataset})",
                   timed(call("w2s_run", {"dataset": dataset, "method": "vanilla", "lane": "probe"}), 3))
            toolbox.close()
        finally:
            server.stop()


def main() -> None:
    """Run the benchmark and print the figures."""
    from aarlab.home import resolve_home

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="Commands per measurement")
    parser.add_argument("--home", type=Path, help="aarlab home with the built tiny suite (default $AARLAB_HOME or "
                        "~/.cache/aarlab)")
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
            report("sandbox /bin/true (back to back)", timed(lambda: sandbox.exec(["/bin/true"]), args.runs),
                   direct_true)
            report("sandbox /bin/true (50 ms between)", timed(lambda: sandbox.exec(["/bin/true"]), args.runs, 0.05),
                   direct_true)
            python = [sandbox_python(), "-c", "pass"]
            direct_py = timed(lambda: subprocess.run(python, capture_output=True), args.runs // 2)
            report("direct python -c pass", direct_py)
            report("sandbox python -c pass (50 ms between)", timed(lambda: sandbox.exec(python), args.runs // 2, 0.05),
                   direct_py)
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
    agent_tools(resolve_home(args.home), args.runs)


if __name__ == "__main__":
    main()
