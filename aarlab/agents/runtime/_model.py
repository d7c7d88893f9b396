"""The model layer: one ``provider/model`` string (+ optional base URL) to a chat model with tool calling, on top
of inspect_ai's providers.

Strings are inspect_ai's: ``anthropic/claude-sonnet-4-5``, ``openai/gpt-4.1``, ``openai-api/<name>/<model>`` for
any OpenAI-compatible server (its key in ``<NAME>_API_KEY``), ``vllm/<model>``, ``ollama/<model>``. Retries on
rate limits, server errors and timeouts happen inside (exponential backoff); what comes out as an exception is
final.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aarlab.agents.runtime._prices import TokenUsage

if TYPE_CHECKING:
    from inspect_ai.model import ChatMessage, ChatMessageAssistant, Model

_MARKUP = re.compile(r"\[/?(?:bold|blue|red|green|yellow|italic|dim)[^\]]*\]")
_OVERFLOW = re.compile(r"prompt is too long|context length|context window|maximum context|too many tokens", re.I)
MODEL_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[^\s]+$")


class ToolSpecLike(Protocol):
    """What the model needs to know of a tool (``aarlab.agents.tools.ToolSpec`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any]: ...


class ModelConfigError(ValueError):
    """The model cannot be used as configured (bad model string, missing API key or package); says what to do."""


class ProviderError(RuntimeError):
    """The provider refused a call for good (after retries). ``context_overflow`` when the prompt was too long."""

    def __init__(self, message: str, *, context_overflow: bool = False) -> None:
        super().__init__(message)
        self.context_overflow = context_overflow


@dataclass(frozen=True)
class ModelSettings:
    """How to reach and call the model."""

    model: str
    base_url: str | None = None
    max_output_tokens: int = 8192
    attempt_timeout_s: int = 600
    max_retries: int = 6
    api_key: str | None = None  # None: the provider's environment variable (ANTHROPIC_API_KEY, OPENAI_API_KEY, ...)


@dataclass(frozen=True)
class Completion:
    """One model answer: the assistant message (text and tool calls) and what it cost in tokens."""

    message: ChatMessageAssistant
    usage: TokenUsage
    served_model: str


class ChatModel:
    """A provider model behind one synchronous :meth:`generate` (the agent loop is synchronous)."""

    def __init__(self, settings: ModelSettings) -> None:
        if not MODEL_PATTERN.match(settings.model):
            raise ModelConfigError(
                f"model {settings.model!r} is not a provider/model string; examples: 'anthropic/claude-sonnet-4-5', "
                f"'openai/gpt-4.1', 'openai-api/local/llama-3.1-8b' (with a base URL) or 'ollama/qwen3:8b'")
        from inspect_ai.model import GenerateConfig, get_model

        self.settings = settings
        config = GenerateConfig(max_tokens=settings.max_output_tokens, max_retries=settings.max_retries,
                                attempt_timeout=settings.attempt_timeout_s)
        try:
            self._model: Model = get_model(settings.model, base_url=settings.base_url, api_key=settings.api_key,
                                           config=config, memoize=False)
        except Exception as err:  # inspect raises ValueError, PrerequisiteError, ImportError... all are config
            raise ModelConfigError(f"cannot use model {settings.model!r}: {_clean(err)}") from None
        self._loop = asyncio.new_event_loop()

    def generate(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpecLike]) -> Completion:
        """Ask the model for its next message; :class:`ProviderError` when the provider refuses for good."""
        from inspect_ai.model import ModelOutput

        infos = [_tool_info(spec) for spec in tools]
        try:
            output: ModelOutput = self._loop.run_until_complete(
                self._model.generate(input=list(messages), tools=infos))
        except Exception as err:
            text = _clean(err)
            raise ProviderError(f"{self.settings.model}: {text}", context_overflow=bool(_OVERFLOW.search(text))) \
                from None
        if output.stop_reason == "model_length" and not output.message.text and not output.message.tool_calls:
            raise ProviderError(f"{self.settings.model}: the prompt is longer than the model's context window",
                                context_overflow=True)
        if output.error:  # inspect answers some refusals (e.g. a prompt too long) with an error output
            text = _MARKUP.sub("", str(output.error))
            raise ProviderError(f"{self.settings.model}: {text}",
                                context_overflow=output.stop_reason == "model_length" or bool(_OVERFLOW.search(text)))
        return Completion(output.message, _usage(output), output.model or self.settings.model)

    def close(self) -> None:
        """Release the event loop (and the provider's connections with it)."""
        if not self._loop.is_closed():
            self._loop.close()


def _tool_info(spec: ToolSpecLike) -> Any:
    from inspect_ai.tool import ToolInfo, ToolParams

    return ToolInfo(name=spec.name, description=spec.description,
                    parameters=ToolParams.model_validate(spec.parameters))


def _usage(output: Any) -> TokenUsage:
    usage = output.usage
    if usage is None:
        return TokenUsage()
    return TokenUsage(input_tokens=usage.input_tokens or 0, output_tokens=usage.output_tokens or 0,
                      cache_read_tokens=usage.input_tokens_cache_read or 0,
                      cache_write_tokens=usage.input_tokens_cache_write or 0)


def _clean(err: BaseException) -> str:
    """An exception's message without rich markup, request dumps or blank lines."""
    status = getattr(err, "status_code", None)
    provider_message = getattr(err, "provider_message", None)  # inspect's ModelGenerateError
    if provider_message:
        return f"HTTP {status}: {provider_message}" if status else str(provider_message)
    text = _MARKUP.sub("", str(err)).strip() or type(err).__name__
    if "\nRequest:" in text:  # a provider error with the request dumped before it: keep the error
        text = text.rsplit("\n\n", 1)[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip() and line.strip() != "ERROR:"]
    return " ".join(lines)[:2000]
