"""Context compaction: the model summarizes the older part of its own conversation, so that a run of hours fits in
its context window. The summary call is an ordinary model call (its tokens and cost are counted)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from aarlab.agents.runtime._model import Completion, ToolSpecLike

if TYPE_CHECKING:
    from inspect_ai.model import ChatMessage

#: Characters of one tool result kept in the text the summarizer reads.
TOOL_OUTPUT_CHARS = 1500

SUMMARIZER = """You maintain the memory of an automated alignment researcher working on weak-to-strong supervision.
Its conversation is too long for its context window. Summarize the part you are given so that the researcher can
continue without it. Keep: the plan and the hypotheses; every experiment run (method, dataset, settings) and its
outcome; submission receipts with their public accuracy/PGR; forum posts read or written and snapshot ids; files
written in the workspace and what they contain; what failed and why; open questions and next steps. Drop
verbatim tool output. Write compact Markdown, at most about 800 words, in the second person ("you ran ...")."""


class Generator(Protocol):
    """What compaction needs of a model (:class:`aarlab.agents.runtime._model.ChatModel` fits)."""

    def generate(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpecLike]) -> Completion: ...


def render(messages: Sequence[ChatMessage], limit_chars: int) -> str:
    """``messages`` as plain text for the summarizer, tool output clipped; the oldest text goes first if the whole
    is longer than ``limit_chars``."""
    parts = []
    for message in messages:
        if message.role == "assistant":
            calls = "".join(f"\n-> call {c.function}({_args(c.arguments)})" for c in message.tool_calls or [])
            parts.append(f"### assistant\n{message.text}{calls}")
        elif message.role == "tool":
            output = message.text
            if len(output) > TOOL_OUTPUT_CHARS:
                half = TOOL_OUTPUT_CHARS // 2
                output = f"{output[:half]}\n[... {len(output) - 2 * half} characters cut ...]\n{output[-half:]}"
            parts.append(f"### tool result ({message.function})\n{output}")
        else:
            parts.append(f"### {message.role}\n{message.text}")
    text = "\n\n".join(parts)
    if len(text) > limit_chars:
        text = "[... the oldest part is cut ...]\n" + text[len(text) - limit_chars:]
    return text


def _args(arguments: dict[str, object]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    return text if len(text) <= 600 else text[:600] + " ..."


def summarize(model: Generator, messages: Sequence[ChatMessage], limit_chars: int) -> Completion:
    """Ask ``model`` for a summary of ``messages`` (its text is ``completion.message.text``)."""
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser

    prompt: list[ChatMessage] = [ChatMessageSystem(content=SUMMARIZER),
              ChatMessageUser(content="Summarize this part of the research conversation:\n\n"
                                      + render(messages, limit_chars))]
    return model.generate(prompt, [])
