"""The conversation the model sees, and how it is rebuilt from ``transcript.jsonl`` when an agent resumes.

The conversation is a list of inspect_ai chat messages whose first is the system prompt. Every change to it is
also a transcript event, and :func:`replay` applies the events in order to get the same list back: a
``compaction`` event drops the ``dropped_messages`` oldest messages after the system prompt and puts the summary
(with the notebook as it was then) in their place. Tool calls whose result never came (the process died while
the tool ran) get a synthetic "interrupted" result, so that every call the model made is answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_ai.model import ChatMessage, ChatMessageAssistant

INTERRUPTED = ("interrupted: the agent process stopped while this tool was running, so its result was lost. "
               "Check the workspace for what it did before repeating it.")


def operator_text(body: str) -> str:
    """How an operator message reads in the conversation."""
    return f"[operator] Message from the people running this campaign:\n\n{body}"


def summary_text(summary: str, notebook: str) -> str:
    """The user message that stands for the messages a compaction dropped."""
    book = notebook.strip() or "(empty: write your findings and plans there with notebook_write)"
    return ("[harness] Your earlier context was replaced by this summary to save space.\n\n"
            f"## Summary of your work so far\n{summary.strip()}\n\n"
            f"## Your notebook (NOTEBOOK.md), as it is now\n{book}\n\nContinue your research.")


@dataclass
class Conversation:
    """The messages sent to the model; ``messages[0]`` is the system prompt."""

    messages: list[ChatMessage]

    @classmethod
    def start(cls, system_prompt: str) -> Conversation:
        """A conversation holding only the system prompt."""
        from inspect_ai.model import ChatMessageSystem

        return cls([ChatMessageSystem(content=system_prompt)])

    @property
    def system_prompt(self) -> str:
        """The system prompt's text."""
        return self.messages[0].text

    def add_user(self, content: str) -> None:
        """A user (harness or operator) message."""
        from inspect_ai.model import ChatMessageUser

        self.messages.append(ChatMessageUser(content=content))

    def add_assistant(self, message: ChatMessageAssistant) -> None:
        """The model's answer, with its tool calls."""
        self.messages.append(message)

    def add_tool_result(self, call_id: str, name: str, output: str, is_error: bool) -> None:
        """The result of tool call ``call_id``."""
        from inspect_ai.model import ChatMessageTool
        from inspect_ai.tool import ToolCallError

        error = ToolCallError("unknown", output) if is_error else None
        self.messages.append(ChatMessageTool(content=output, tool_call_id=call_id, function=name, error=error))

    def compact(self, dropped: int, summary: str, notebook: str) -> None:
        """Replace the ``dropped`` oldest messages after the system prompt by the summary message."""
        from inspect_ai.model import ChatMessageUser

        if not 0 < dropped < len(self.messages):
            raise ValueError(f"cannot drop {dropped} of {len(self.messages) - 1} messages")
        summary_message = ChatMessageUser(content=summary_text(summary, notebook))
        self.messages = [self.messages[0], summary_message, *self.messages[1 + dropped:]]

    def compaction_cut(self, keep_turns: int) -> int:
        """How many messages after the system prompt a compaction may drop while keeping the last ``keep_turns``
        assistant turns (each with its tool results) verbatim; 0 when there is nothing older to drop."""
        starts = [i for i, m in enumerate(self.messages) if i > 0 and m.role == "assistant"]
        if len(starts) <= 1:
            return 0
        keep = max(1, min(keep_turns, len(starts) - 1))
        return starts[-keep] - 1


@dataclass
class Replay:
    """What :func:`replay` found besides the conversation."""

    events: int = 0
    last_operator_id: int = 0
    dangling: list[tuple[str, str]] = field(default_factory=list)  # (call id, tool name) without a result


def replay(events: list[dict[str, Any]], system_prompt: str) -> tuple[Conversation, Replay]:
    """The conversation that ``events`` describe (``system_prompt`` unless the transcript holds one)."""
    from inspect_ai.model import ChatMessageAssistant
    from inspect_ai.tool import ToolCall

    info = Replay(events=len(events))
    first_system = next((e for e in events if e.get("type") == "message" and e.get("role") == "system"), None)
    conv = Conversation.start(str(first_system["content"]) if first_system else system_prompt)
    pending: dict[str, str] = {}

    def settle() -> None:  # answer calls left open before the conversation moves on
        for call_id, name in pending.items():
            conv.add_tool_result(call_id, name, INTERRUPTED, True)
        pending.clear()

    for event in events:
        kind = event.get("type")
        if kind == "message":
            role, content = event.get("role"), str(event.get("content", ""))
            if role == "user":
                settle()
                conv.add_user(content)
            elif role == "assistant":
                settle()
                conv.add_assistant(ChatMessageAssistant(content=content, tool_calls=[]))
        elif kind == "tool_call":
            last = conv.messages[-1]
            if not isinstance(last, ChatMessageAssistant):
                settle()
                last = ChatMessageAssistant(content="", tool_calls=[])
                conv.add_assistant(last)
            last.tool_calls = [*(last.tool_calls or []),
                               ToolCall(id=str(event["id"]), function=str(event["name"]),
                                        arguments=dict(event.get("input") or {}))]
            pending[str(event["id"])] = str(event["name"])
        elif kind == "tool_result" and str(event.get("id")) in pending:
            pending.pop(str(event["id"]))
            conv.add_tool_result(str(event["id"]), str(event.get("name", "")), str(event.get("output", "")),
                                 bool(event.get("is_error", False)))
        elif kind == "operator":
            settle()
            conv.add_user(operator_text(str(event.get("content", ""))))
            info.last_operator_id = max(info.last_operator_id, int(event.get("message_id", 0)))
        elif kind == "compaction":
            settle()
            dropped = int(event.get("dropped_messages", 0))
            if 0 < dropped < len(conv.messages):
                conv.compact(dropped, str(event.get("summary", "")), str(event.get("notebook", "")))
    info.dangling = list(pending.items())
    return conv, info
