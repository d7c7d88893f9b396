"""Agent files and the transcript monitor: what the host-side safety costs.

Prints (1) reading a 256 KiB notebook through ``aarlab._agentfiles`` vs a plain ``open().read()``, (2) refusing a
FIFO notebook (the call that used to block forever), (3) scanning a transcript of the bound's size (16 MiB) with
the built-in monitor rules, cold, unchanged and after an append (only new lines are scanned).

    python benchmarks/agent_files.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from aarlab._agentfiles import UnsafeAgentFile, read_agent_file
from aarlab.agents.monitor import MAX_TRANSCRIPT_BYTES, monitor_agent


def _per_call_ms(fn: object, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        campaign = Path(tmp)
        workspace = campaign / "agents" / "a" / "workspace"
        workspace.mkdir(parents=True)
        (workspace / "NOTEBOOK.md").write_bytes(b"n" * (256 * 1024))

        def plain() -> bytes:
            with open(workspace / "NOTEBOOK.md", "rb") as fh:
                return fh.read(256 * 1024)

        safe = _per_call_ms(lambda: read_agent_file(campaign, "agents/a/workspace/NOTEBOOK.md", 256 * 1024),
                            args.repeat)
        print(f"notebook 256 KiB: plain open {_per_call_ms(plain, args.repeat):.3f} ms, "
              f"_agentfiles {safe:.3f} ms per read")

        os.mkfifo(workspace / "PIPE.md")

        def refuse() -> None:
            try:
                read_agent_file(campaign, "agents/a/workspace/PIPE.md", 1024)
            except UnsafeAgentFile:
                return
            raise AssertionError("a FIFO was read")

        print(f"FIFO notebook refused in {_per_call_ms(refuse, args.repeat):.3f} ms per call (plain open blocks)")

        line = json.dumps({"t": 1.0, "type": "tool_call", "name": "shell",
                           "input": {"command": "python methods/run.py --seed 3 " + "x" * 400}}) + "\n"
        with open(campaign / "agents" / "a" / "transcript.jsonl", "w") as fh:
            fh.write(line * (MAX_TRANSCRIPT_BYTES // len(line)))
        start = time.perf_counter()
        report = monitor_agent(campaign, "a")
        cold = time.perf_counter() - start
        start = time.perf_counter()
        monitor_agent(campaign, "a")
        cached = time.perf_counter() - start
        with open(campaign / "agents" / "a" / "transcript.jsonl", "a") as fh:
            fh.write(line * 100)
        start = time.perf_counter()
        monitor_agent(campaign, "a")
        appended = time.perf_counter() - start
        print(f"monitor: {report.events} events ({MAX_TRANSCRIPT_BYTES >> 20} MiB) scanned in {cold:.2f} s cold, "
              f"{cached * 1000:.2f} ms unchanged, {appended * 1000:.1f} ms after 100 appended events; "
              f"{report.total} flags")


if __name__ == "__main__":
    main()
