"""Command ``aarlab sandbox exec``: run one command in an agent's sandbox, exactly as the agent would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

sandbox_app = typer.Typer(help="Agents' sandboxes (bubblewrap): run a command as an agent would.",
                          no_args_is_help=True)
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Attach ``sandbox`` to the root ``aarlab`` app."""
    app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("exec")
def exec_command(
    cmd: Annotated[list[str], typer.Argument(help="The command and its arguments (after --)")],
    state: Annotated[Path, typer.Option("--state", help="Campaign state dir holding agents/NAME/{workspace,token}")],
    agent: Annotated[str, typer.Option("--agent", help="Agent whose sandbox runs the command")],
    wall_s: Annotated[float | None, typer.Option("--wall-s", help="Wall-clock limit in seconds")] = None,
    memory_mb: Annotated[int | None, typer.Option("--memory-mb", help="Memory limit of the process tree")] = None,
    pids: Annotated[int | None, typer.Option("--pids", help="Processes + threads limit")] = None,
    cpu_s: Annotated[int | None, typer.Option("--cpu-s", help="CPU seconds per process")] = None,
    disk_mb: Annotated[int | None, typer.Option("--disk-mb", help="Disk quota of the workspace in MiB (also the "
                                                "largest file and the size of /tmp)")] = None,
    extra_ro: Annotated[list[Path] | None, typer.Option("--extra-ro", help="Also mount this host path read-only "
                                                        "at the same path (e.g. a built suite's models/)")] = None,
) -> None:
    """Run CMD in the agent's sandbox; its stdout/stderr pass through and its exit code becomes ours."""
    from aarlab.agents.sandbox import AgentLayout, SandboxError, SandboxLimits

    given = {"wall_s": wall_s, "memory_mb": memory_mb, "pids": pids, "cpu_s": cpu_s, "disk_mb": disk_mb}
    try:
        limits = SandboxLimits(**{k: v for k, v in given.items() if v is not None})
        sandbox = AgentLayout.open(state, agent).sandbox(limits, extra_ro=extra_ro or [])
        result = sandbox.exec(cmd)
    except SandboxError as e:
        raise fail(str(e)) from None
    except ValueError as e:
        raise fail(f"invalid limits: {e}") from None
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    if result.killed_reason is not None or result.limits_hit:
        err.print(f"sandbox: killed_reason={result.killed_reason} limits_hit={','.join(result.limits_hit)} "
                  f"(exit {result.exit_code})", highlight=False)
    raise typer.Exit(result.exit_code)
