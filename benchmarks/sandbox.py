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

Disk quota (``--only disk`` runs just this): the cost of measuring a workspace (100 and 10,000 files), the launch
overhead it adds, and how far past a 64 MiB quota a writer gets: many 1 MiB files in a loop, one file with ``dd``.
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


def disk_quota(runs: int) -> None:
    """Figures of the workspace disk quota: measurement cost, launch overhead, overshoot past the quota."""
    from aarlab.agents.sandbox._quota import workspace_usage

    mib = 2**20
    with tempfile.TemporaryDirectory(prefix="aarlab-bench-disk-") as tmp:
        for files in (100, 10_000):
            tree = Path(tmp) / f"tree{files}"
            tree.mkdir()
            for i in range(files):
                (tree / f"f{i}").write_bytes(b"x" * 100)
            report(f"workspace_usage() over {files:,} files", timed(lambda t=tree: workspace_usage(t), 20))
            sandbox = BubblewrapSandbox(tree, limits=SandboxLimits(wall_s=60))
            # 500 ms between: time for the background measurement of the previous command to finish
            report(f"sandbox /bin/true, workspace of {files:,} files (500 ms between)",
                   timed(lambda sb=sandbox: sb.exec(["/bin/true"]), max(10, runs // 5), 0.5))
            report(f"sandbox /bin/true, workspace of {files:,} files (back to back)",
                   timed(lambda sb=sandbox: sb.exec(["/bin/true"]), max(10, runs // 5)))
            sandbox._quota = None  # type: ignore[assignment]  # reference: the same sandbox without the quota
            report(f"  reference without the quota, {files:,} files (500 ms between)",
                   timed(lambda sb=sandbox: sb.exec(["/bin/true"]), max(10, runs // 5), 0.5))
            sandbox.close()
        limits = SandboxLimits(wall_s=120, disk_mb=64)
        loop = "for i in range(128):\n    open(f'c{i}', 'wb').write(b'x' * 2**20)"
        for name, argv in (("python loop of 1 MiB files (2x quota)", [sandbox_python(), "-c", loop]),
                           ("dd of one 128 MiB file", ["dd", "if=/dev/zero", "of=big", "bs=1M", "count=128"])):
            overs = []
            for run in range(3):
                ws = Path(tmp) / f"ws-{len(name)}-{run}"
                ws.mkdir()
                sandbox = BubblewrapSandbox(ws, limits=limits)
                result = sandbox.exec(argv)
                overs.append((workspace_usage(ws) - 64 * mib) / mib)
                sandbox.close()
            print(f"{name}: killed_reason={result.killed_reason} limits_hit={result.limits_hit}; MiB past the "
                  f"64 MiB quota over 3 runs: {', '.join(f'{o:+.1f}' for o in overs)}", flush=True)


def main() -> None:
    """Run the benchmark and print the figures."""
    from aarlab.home import resolve_home

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="Commands per measurement")
    parser.add_argument("--home", type=Path, help="aarlab home with the built tiny suite (default $AARLAB_HOME or "
                        "~/.cache/aarlab)")
    parser.add_argument("--only", choices=["disk"], help="Run only this part (disk: the workspace disk quota)")
    args = parser.parse_args()
    if args.only == "disk":
        disk_quota(args.runs)
        return
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
    disk_quota(args.runs)
    agent_tools(resolve_home(args.home), args.runs)


if __name__ == "__main__":
    main()
