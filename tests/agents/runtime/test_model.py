"""The model layer: Anthropic and OpenAI-compatible endpoints through one model string, retries, clear errors."""

from __future__ import annotations

import pytest

from aarlab.agents.runtime import ChatModel, ModelConfigError, ModelSettings, ProviderError
from aarlab.agents.tools import ToolSpec
from tests.agents.fake_llm import FakeLLM, Reply, text, tool_use

SHELL = ToolSpec("shell", "Run a command", {"type": "object", "properties": {"command": {"type": "string"}},
                                            "required": ["command"]})


def ask(model: ChatModel, prompt: str = "hi") -> object:
    from inspect_ai.model import ChatMessageUser

    return model.generate([ChatMessageUser(content=prompt)], [SHELL])


def test_anthropic_tool_calls_and_usage_come_back() -> None:
    with FakeLLM([Reply([text("ok"), tool_use("shell", {"command": "ls"}, call_id="t1")], 123, 45,
                        cache_read_tokens=7)]) as llm:
        model = ChatModel(ModelSettings("anthropic/claude-test", base_url=llm.base_url, api_key="k"))
        completion = ask(model)
        headers = llm.requests[0].headers
    assert completion.message.text == "ok"
    assert [(c.id, c.function, c.arguments) for c in completion.message.tool_calls] == [("t1", "shell",
                                                                                        {"command": "ls"})]
    assert (completion.usage.input_tokens, completion.usage.output_tokens, completion.usage.cache_read_tokens) == \
        (123, 45, 7)
    assert headers.get("x-api-key") == "k" or headers.get("authorization") == "Bearer k"


def test_an_openai_compatible_server_works_with_a_base_url() -> None:
    with FakeLLM([Reply([tool_use("shell", {"command": "pwd"}, call_id="t2")], 50, 5)]) as llm:
        model = ChatModel(ModelSettings("openai-api/local/llama-test", base_url=llm.openai_base_url, api_key="k"))
        completion = ask(model)
        request = llm.requests[0]
    assert request.api == "openai" and request.body["model"] == "llama-test"
    assert request.body["tools"][0]["function"]["name"] == "shell"
    assert completion.message.tool_calls[0].arguments == {"command": "pwd"}
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (50, 5)


def test_rate_limits_and_server_errors_are_retried() -> None:
    with FakeLLM([Reply(status=429), Reply(status=503), [text("finally")]]) as llm:
        model = ChatModel(ModelSettings("anthropic/claude-test", base_url=llm.base_url, api_key="k", max_retries=3))
        completion = ask(model)
        assert len(llm.requests) == 3
    assert completion.message.text == "finally"


def test_a_refused_request_is_a_provider_error_with_the_providers_message() -> None:
    with FakeLLM([Reply(status=400, error="messages: roles must alternate")]) as llm:
        model = ChatModel(ModelSettings("anthropic/claude-test", base_url=llm.base_url, api_key="k"))
        with pytest.raises(ProviderError, match="roles must alternate") as caught:
            ask(model)
        assert len(llm.requests) == 1  # not retried
    assert caught.value.context_overflow is False


def test_a_prompt_too_long_is_flagged_as_context_overflow() -> None:
    with FakeLLM([Reply(status=400, error="prompt is too long: 250000 tokens > 200000 maximum")]) as llm:
        model = ChatModel(ModelSettings("anthropic/claude-test", base_url=llm.base_url, api_key="k"))
        with pytest.raises(ProviderError) as caught:
            ask(model)
    assert caught.value.context_overflow is True


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "", "anthropic/", "has space/model"])
def test_a_bad_model_string_is_a_clear_error(model: str) -> None:
    with pytest.raises(ModelConfigError, match="provider/model"):
        ChatModel(ModelSettings(model))


def test_an_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(ModelConfigError, match="nosuchprovider"):
        ChatModel(ModelSettings("nosuchprovider/model"))


def test_a_missing_api_key_names_the_variable_to_set() -> None:
    with pytest.raises(ModelConfigError, match="ANTHROPIC_API_KEY") as caught:
        ChatModel(ModelSettings("anthropic/claude-sonnet-4-5"))
    assert "[bold]" not in str(caught.value)
