"""``python -m aarlab.agents.runtime --state DIR --agent NAME``: one LLM research agent of a campaign.

Reads ``DIR/agents/NAME/agent.json`` (model, base URL, direction, budgets, prices) and ``token``; builds the
agent's tools (its sandbox, workspace and scoring token); polls operator control over ``DIR/scoring.sock``;
writes ``transcript.jsonl`` and ``usage.json`` next to them. Provider keys come from this process's environment
(``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``, ``<NAME>_API_KEY`` for ``openai-api/<name>/...``) and never enter
the sandbox. Exit status: 0 when done, out of budget or stopped by the operator; 2 for a configuration or
provider error; 128+N on signal N; 1 on a crash (the supervisor restarts the process, which resumes).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from aarlab.agents.runtime._ledger import Budget, Ledger
from aarlab.agents.runtime._loop import AgentRun, LoopSettings, Terminated
from aarlab.agents.runtime._model import ChatModel, ModelConfigError, ModelSettings
from aarlab.agents.runtime._prices import PricesError, PriceTable
from aarlab.agents.runtime._transcript import Transcript

if TYPE_CHECKING:
    from aarlab.campaign._state import AgentAssignment

TRANSCRIPT = "transcript.jsonl"
USAGE = "usage.json"


class SetupError(RuntimeError):
    """The agent cannot start as configured; the message says what to fix."""


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m aarlab.agents.runtime",
        description="Run one LLM research agent of a campaign (the campaign supervisor starts it; run it by hand "
                    "to debug). A restarted agent resumes from its transcript, notebook and workspace.",
        epilog="example: python -m aarlab.agents.runtime --state runs/c1 --agent agent-1")
    p.add_argument("--state", required=True, type=Path, help="the campaign state dir")
    p.add_argument("--agent", required=True, help="the agent's name (agents/NAME/agent.json)")
    p.add_argument("--context-tokens", type=int, default=LoopSettings.context_tokens,
                   help="the model's context window in tokens (default %(default)s)")
    p.add_argument("--compact-fraction", type=float, default=LoopSettings.compact_fraction,
                   help="summarize older turns when a call's context passes this fraction of the window "
                        "(default %(default)s)")
    p.add_argument("--keep-turns", type=int, default=LoopSettings.keep_turns,
                   help="recent assistant turns kept verbatim at a compaction (default %(default)s)")
    p.add_argument("--max-output-tokens", type=int, default=ModelSettings.max_output_tokens,
                   help="most tokens of one model answer (default %(default)s)")
    p.add_argument("--pause-poll-s", type=float, default=LoopSettings.pause_poll_s,
                   help="seconds between control polls while paused (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the agent; the process's exit status."""
    args = parser().parse_args(argv)
    name = args.agent

    def log(message: str) -> None:
        print(f"[{name}] {message}", flush=True)

    agent_dir = args.state / "agents" / name
    try:
        settings = LoopSettings(context_tokens=args.context_tokens, compact_fraction=args.compact_fraction,
                                keep_turns=args.keep_turns, pause_poll_s=args.pause_poll_s)
        run = build_run(args.state, name, settings, args.max_output_tokens, log)
    except (SetupError, ModelConfigError, PricesError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        if agent_dir.is_dir():
            transcript = Transcript(agent_dir / TRANSCRIPT)
            transcript.write("state", state="error", reason=str(err))
            transcript.close()
        return 2

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    try:
        return run.run().exit_code
    finally:
        for resource in (run.model, run.toolbox, run.control):  # each that holds connections has close()
            close = getattr(resource, "close", None)
            if callable(close):
                close()


def build_run(state: Path, name: str, settings: LoopSettings, max_output_tokens: int,
              log: object = print) -> AgentRun:
    """Everything one agent process needs, checked before the first model call."""
    from aarlab.agents.prompts import render_system_prompt
    from aarlab.agents.sandbox import AgentLayout, SandboxError
    from aarlab.campaign._state import AgentAssignment

    agent_dir = state / "agents" / name
    if not (agent_dir / "agent.json").is_file():
        raise SetupError(f"no agent {name!r} in {state} (expected {agent_dir / 'agent.json'}); start agents with "
                         f"`aarlab campaign run --agent MODEL --state {state}`")
    assignment = AgentAssignment.model_validate_json((agent_dir / "agent.json").read_text())
    if not assignment.model:
        raise SetupError(f"{agent_dir / 'agent.json'} names no model (kind {assignment.kind!r}); an LLM agent "
                         f"needs one such as 'anthropic/claude-sonnet-4-5'")
    try:
        layout = AgentLayout.open(state, name)
    except SandboxError as err:
        raise SetupError(str(err)) from None
    token = layout.read_token()
    if token is None:
        raise SetupError(f"agent {name} has no token at {layout.token_file}")
    prices = PriceTable.load(Path(assignment.prices_file) if assignment.prices_file else None)
    model = ChatModel(ModelSettings(model=assignment.model, base_url=assignment.base_url,
                                    max_output_tokens=max_output_tokens))
    budget = Budget(usd=assignment.budget_usd, tokens=assignment.budget_tokens, deadline=assignment.deadline,
                    experiments=assignment.budget_experiments)
    ledger = Ledger.open(agent_dir / USAGE, assignment.model, budget)
    title, text = direction_of(assignment)
    system_prompt = render_system_prompt(agent=name, suite=assignment.suite, datasets=list(assignment.datasets),
                                         direction_title=title, direction_text=text,
                                         budgets=ledger.describe_budget())
    from aarlab.agents.tools import build_toolbox
    from aarlab.client import ControlClient

    toolbox = build_toolbox(state, assignment, token)
    control = ControlClient(token=token, uds=str(layout.scoring_socket))
    return AgentRun(model=model, model_name=assignment.model, toolbox=toolbox, control=control, ledger=ledger,
                    prices=prices, transcript_path=agent_dir / TRANSCRIPT, system_prompt=system_prompt,
                    settings=settings, log=log if callable(log) else print)


def direction_of(assignment: AgentAssignment) -> tuple[str, str]:
    """The direction's title and text: from the assignment, else the built-in direction it names."""
    from aarlab.agents.prompts import load_directions

    builtin = {d.name: d for d in load_directions()}
    named = builtin.get(assignment.direction_name) or builtin.get(assignment.direction)
    text = assignment.direction_text or (named.text if named else "")
    title = named.title if named and not assignment.direction_text else assignment.direction
    return title or assignment.direction_name or "open", text
