"""The agent loop: ask the model, run the tools it calls, record everything, obey the operator and the budgets.

Before every turn the loop checks the budgets (USD, tokens, experiments, wall deadline) and polls operator
control: ``paused`` waits without spending, ``stopped`` ends the run, operator messages join the conversation,
a ``budget_usd`` replaces the dollar budget. When the last call's context passes a threshold, the older part of
the conversation is summarized (see :mod:`aarlab.agents.runtime._compaction`). A restarted process rebuilds the
conversation from the transcript (:func:`aarlab.agents.runtime._history.replay`).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aarlab.agents.runtime._compaction import Generator, summarize
from aarlab.agents.runtime._control import ControlSource, ControlStateLike
from aarlab.agents.runtime._history import INTERRUPTED, Conversation, operator_text, replay
from aarlab.agents.runtime._ledger import Ledger
from aarlab.agents.runtime._model import Completion, ProviderError, ToolSpecLike
from aarlab.agents.runtime._prices import PriceTable
from aarlab.agents.runtime._transcript import Transcript, read_events

if TYPE_CHECKING:
    from inspect_ai.tool import ToolCall

KICKOFF = ("Begin your research. Read the forum and the leaderboard first, look at the built-in methods, then write "
           "your plan in your notebook.")
NUDGE = ("[harness] You answered without calling a tool. Keep working with your tools until your budget runs out; "
         "if your research is truly finished, say so in one sentence without calling a tool.")


class ToolResultLike(Protocol):
    """What a tool call gave back (``aarlab.agents.tools.ToolResult`` fits)."""

    @property
    def output(self) -> str: ...
    @property
    def is_error(self) -> bool: ...
    @property
    def experiment(self) -> int: ...


class ToolBoxLike(Protocol):
    """The agent's tools (``aarlab.agents.tools.ToolBox`` fits)."""

    def specs(self) -> Sequence[ToolSpecLike]: ...
    def call(self, name: str, arguments: dict[str, Any]) -> ToolResultLike: ...
    def notebook(self) -> str: ...


class Terminated(Exception):
    """The process got SIGTERM/SIGINT (the campaign is stopping); the loop ends cleanly and can be resumed."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@dataclass(frozen=True)
class LoopSettings:
    """Knobs of the loop. Compaction starts when a call's context passes ``compact_fraction * context_tokens``."""

    context_tokens: int = 200_000
    compact_fraction: float = 0.6
    keep_turns: int = 4
    pause_poll_s: float = 5.0
    max_idle_turns: int = 3

    def __post_init__(self) -> None:
        if self.context_tokens < 1000:
            raise ValueError(f"context_tokens must be at least 1000, got {self.context_tokens}")
        if not 0.05 <= self.compact_fraction <= 0.95:
            raise ValueError(f"compact_fraction must be within [0.05, 0.95], got {self.compact_fraction}")
        if self.keep_turns < 1 or self.max_idle_turns < 1 or self.pause_poll_s <= 0:
            raise ValueError("keep_turns and max_idle_turns must be >= 1 and pause_poll_s > 0")


@dataclass(frozen=True)
class Outcome:
    """How a run ended: ``state`` is done, stopped, budget_exhausted or error."""

    state: str
    reason: str
    exit_code: int = 0


class AgentRun:
    """One process's share of an agent's run: start or resume, loop until an outcome, record it."""

    def __init__(self, *, model: Generator, model_name: str, toolbox: ToolBoxLike, control: ControlSource,
                 ledger: Ledger, prices: PriceTable, transcript_path: Path, system_prompt: str,
                 settings: LoopSettings | None = None, log: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.model = model
        self.model_name = model_name
        self.toolbox = toolbox
        self.control = control
        self.ledger = ledger
        self.prices = prices
        self.transcript_path = transcript_path
        self.settings = settings or LoopSettings()
        self.log = log
        self.sleep = sleep
        self.conversation = Conversation.start(system_prompt)
        self.transcript: Transcript | None = None
        self.since = 0  # last operator message delivered
        self.context_tokens = 0  # size of the last turn's context (prompt + answer)
        self._specs: Sequence[ToolSpecLike] = ()
        self._price_warned = False
        self._poll_failing = False

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Start (or resume from the transcript) and work until done, stopped, out of budget or failed."""
        self._specs = list(self.toolbox.specs())
        self._open()
        try:
            outcome = self._loop()
        except ProviderError as err:
            outcome = Outcome("error", str(err), exit_code=2)
        except Terminated as err:
            outcome = Outcome("stopped", str(err), exit_code=128 + err.signum)
        except BaseException as err:  # a crash: record it, then let it propagate (non-zero exit, restart)
            self._record_state("error", f"crash: {type(err).__name__}: {err}")
            raise
        self._finish(outcome)
        return outcome

    def _open(self) -> None:
        events = read_events(self.transcript_path)
        self.transcript = Transcript(self.transcript_path)
        if not events:
            self._event("message", role="system", content=self.conversation.system_prompt)
            notebook = self.toolbox.notebook().strip()
            self._user(KICKOFF + (f"\n\nYour notebook (NOTEBOOK.md) already reads:\n\n{notebook}" if notebook
                                  else ""))
            self._record_state("running", "started")
            return
        self.conversation, info = replay(events, self.conversation.system_prompt)
        self.since = info.last_operator_id
        for call_id, name in info.dangling:
            self._event("tool_result", id=call_id, name=name, output=INTERRUPTED, is_error=True, duration_s=0.0)
            self.conversation.add_tool_result(call_id, name, INTERRUPTED, True)
        notebook = self.toolbox.notebook().strip() or "(empty)"
        interrupted = f" {len(info.dangling)} tool call(s) that were running were interrupted." if info.dangling \
            else ""
        self._user(f"[harness] The agent process restarted and your conversation was restored from the transcript."
                   f"{interrupted} Your notebook (NOTEBOOK.md) reads:\n\n{notebook}\n\nContinue your research.")
        self._record_state("running", f"resumed from the transcript ({info.events} events, restart "
                                      f"{self.ledger.usage.restarts})")

    def _loop(self) -> Outcome:
        idle = 0
        while True:
            reason = self.ledger.exhausted()
            if reason is not None:
                return Outcome("budget_exhausted", reason)
            stop = self._obey_operator()
            if stop is not None:
                return stop
            if self.ledger.exhausted() is not None:  # the deadline may have passed while paused
                continue
            if self.context_tokens > self.settings.compact_fraction * self.settings.context_tokens:
                self._compact(self.settings.keep_turns)
            completion = self._generate()
            calls = completion.message.tool_calls or []
            if calls:
                idle = 0
                self._run_tools(calls)
                continue
            idle += 1
            if idle >= self.settings.max_idle_turns:
                return Outcome("done", f"the model answered {idle} times in a row without calling a tool")
            self._user(NUDGE)

    # -- model calls --------------------------------------------------------------------------------------------
    def _generate(self) -> Completion:
        try:
            completion = self.model.generate(self.conversation.messages, self._specs)
        except ProviderError as err:
            if not err.context_overflow or not self._compact(keep_turns=1):
                raise
            self.log(f"context overflow ({err}); compacted the conversation, retrying once")
            completion = self.model.generate(self.conversation.messages, self._specs)
        self._account(completion, "turn")
        message = completion.message
        self.conversation.add_assistant(message)
        self._event("message", role="assistant", content=message.text)
        for call in message.tool_calls or []:
            self._event("tool_call", id=call.id, name=call.function, input=call.arguments)
        return completion

    def _account(self, completion: Completion, purpose: str) -> None:
        """Count one call's tokens and cost (usage event + usage.json)."""
        usage = completion.usage
        price = self.prices.lookup(self.model_name) or self.prices.lookup(completion.served_model)
        u = self.ledger.usage
        if price is None:
            cost = 0.0
            u.priced, u.unpriced_calls = False, u.unpriced_calls + 1
            u.price_note = (f"no price for model {self.model_name!r} in the price table: its calls are counted as "
                            f"$0 and a USD budget cannot stop it; add [models.\"{self.model_name}\"] to a prices file")
            if not self._price_warned:
                self.log(f"warning: {u.price_note}")
                self._price_warned = True
        else:
            cost = self.prices.cost(price, usage)
        u.input_tokens += usage.prompt_tokens
        u.output_tokens += usage.output_tokens
        u.cache_read_tokens += usage.cache_read_tokens
        u.cache_write_tokens += usage.cache_write_tokens
        u.cost_usd += cost
        u.llm_calls += 1
        self.ledger.save()
        self._event("usage", model=self.model_name, input_tokens=usage.prompt_tokens,
                    output_tokens=usage.output_tokens, cost_usd=cost, cache_read_tokens=usage.cache_read_tokens,
                    cache_write_tokens=usage.cache_write_tokens, purpose=purpose, priced=price is not None)
        if purpose == "turn":
            self.context_tokens = usage.prompt_tokens + usage.output_tokens

    def _compact(self, keep_turns: int) -> bool:
        """Summarize the older part of the conversation; False when there is nothing older to drop."""
        cut = self.conversation.compaction_cut(keep_turns)
        if cut <= 1:
            self.log("compaction skipped: too few turns to drop (the recent turns alone fill the context)")
            return False
        notebook = self.toolbox.notebook()
        # Half the window, at about four characters per token, for the text the summarizer reads.
        completion = summarize(self.model, self.conversation.messages[1:1 + cut], self.settings.context_tokens * 2)
        self._account(completion, "compaction")
        summary = completion.message.text.strip()
        if not summary:
            self.log("compaction skipped: the model returned an empty summary")
            return False
        self._event("compaction", summary=summary, dropped_messages=cut, notebook=notebook)
        self.conversation.compact(cut, summary, notebook)
        self.context_tokens = 0
        self.log(f"compacted the conversation: {cut} messages replaced by a summary of {len(summary)} characters")
        return True

    # -- tools --------------------------------------------------------------------------------------------------
    def _run_tools(self, calls: list[ToolCall]) -> None:
        """Answer every call (a call never gets no result: when a budget ran out, it is answered 'not run')."""
        u = self.ledger.usage
        for call in calls:
            started = time.monotonic()
            reason = self.ledger.exhausted() or self._too_many_seeds(call)
            if reason is not None:
                output, is_error, experiment = f"not run: {reason}", True, 0
            elif call.parse_error:
                output, is_error, experiment = f"could not parse the arguments: {call.parse_error}", True, 0
            else:
                output, is_error, experiment = self._call_tool(call.function, call.arguments)
            duration = time.monotonic() - started
            self._event("tool_result", id=call.id, name=call.function, output=output, is_error=is_error,
                        duration_s=round(duration, 3))
            self.conversation.add_tool_result(call.id, call.function, output, is_error)
            u.experiments += int(experiment)
            u.submissions += int(call.function == "submit" and not is_error)
            self.ledger.save()

    def _too_many_seeds(self, call: ToolCall) -> str | None:
        """Why a ``w2s_run`` over several seeds would overrun the experiments budget (one experiment per seed)."""
        left = self.ledger.budget.experiments
        seeds = call.arguments.get("seeds") if isinstance(call.arguments, dict) else None
        if call.function != "w2s_run" or left is None or not isinstance(seeds, list):
            return None
        left -= self.ledger.usage.experiments
        if len(seeds) <= left:
            return None
        return f"{len(seeds)} seeds would be {len(seeds)} experiments and only {left} are left in your budget; " \
            f"give at most {left} seeds"

    def _call_tool(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool, int]:
        try:
            result = self.toolbox.call(name, arguments)
        except Terminated:
            raise
        except Exception as err:  # a tool bug, not the agent's mistake: the model hears of it, the log keeps it
            self.log(f"tool {name} raised:\n{traceback.format_exc()}")
            return f"the tool failed inside the harness ({type(err).__name__}: {err}); try something else", True, \
                0
        return result.output, result.is_error, result.experiment

    # -- operator control ---------------------------------------------------------------------------------------
    def _poll(self) -> ControlStateLike | None:
        try:
            state = self.control.poll(self.since)
        except Exception as err:  # the service may restart; the agent goes on and retries at the next turn
            if not self._poll_failing:
                self.log(f"warning: cannot read operator control ({err}); continuing and retrying each turn")
            self._poll_failing = True
            return None
        self._poll_failing = False
        for message in state.messages:
            if message.id > self.since:
                self._event("operator", content=message.body, message_id=message.id)
                self.conversation.add_user(operator_text(message.body))
                self.since = message.id
        if state.budget_usd is not None and state.budget_usd != self.ledger.budget.usd:
            self.ledger.set_budget(replace(self.ledger.budget, usd=state.budget_usd))
            self._record_state(self.ledger.usage.state, f"the operator set the USD budget to ${state.budget_usd:.2f}")
        return state

    def _obey_operator(self) -> Outcome | None:
        """Deliver messages and budget changes; wait while paused; an outcome when stopped."""
        state = self._poll()
        if state is None or state.state == "running":
            return None
        if state.state == "stopped":
            return Outcome("stopped", "stopped by the operator")
        self._record_state("paused", "paused by the operator")
        while True:
            self.sleep(self.settings.pause_poll_s)
            if self.ledger.exhausted() is not None:
                return None
            state = self._poll()
            if state is not None and state.state == "stopped":
                return Outcome("stopped", "stopped by the operator")
            if state is not None and state.state == "running":
                self._record_state("running", "resumed by the operator")
                return None

    # -- records ------------------------------------------------------------------------------------------------
    def _event(self, type: str, **fields: Any) -> None:  # noqa: A002 (the contract's key)
        assert self.transcript is not None
        self.transcript.write(type, **fields)

    def _user(self, content: str) -> None:
        self.conversation.add_user(content)
        self._event("message", role="user", content=content)

    def _record_state(self, state: str, reason: str) -> None:
        if self.transcript is not None:
            self._event("state", state=state, reason=reason)
        self.ledger.usage.state = state
        self.ledger.save()

    def _finish(self, outcome: Outcome) -> None:
        if outcome.state == "budget_exhausted":
            u = self.ledger.usage
            note = (f"\n\n[harness, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}] Stopped: {outcome.reason}. "
                    f"Spent ${u.cost_usd:.4f}, {u.tokens} tokens, {u.experiments} experiments, "
                    f"{u.submissions} submissions.\n")
            try:
                result = self.toolbox.call("notebook_write", {"content": note, "mode": "append"})
                if result.is_error:
                    self.log(f"could not note the stop in the notebook: {result.output}")
            except Exception as err:  # the run is over either way; say why the note is missing
                self.log(f"could not note the stop in the notebook: {err}")
        self._record_state(outcome.state, outcome.reason)
        self.log(f"{outcome.state}: {outcome.reason}")
        if self.transcript is not None:
            self.transcript.close()
