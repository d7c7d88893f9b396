"""The agent loop against the fake Anthropic server: tools run, results go back in the right format, the
transcript and usage.json say what happened and what it cost."""

from __future__ import annotations

import pytest

from aarlab.agents.runtime import PriceTable
from tests.agents.fake_llm import FakeLLM, Reply, text, tool_use
from tests.agents.runtime.conftest import TEST_PRICE, FakeToolBox, RunFiles, make_run


def test_tool_calls_run_and_their_results_go_back_to_the_model(files: RunFiles) -> None:
    script = [Reply([text("Let me look."), tool_use("shell", {"command": "ls"}, call_id="c1")], 1000, 50),
              Reply([tool_use("w2s_run", {"dataset": "math", "method": "vanilla"}, call_id="c2"),
                     tool_use("submit", {"dataset": "math"}, call_id="c3")], 1200, 80),
              Reply([text("Finished.")], 1500, 10)]
    toolbox = FakeToolBox()
    with FakeLLM(script) as llm:
        outcome = make_run(files, llm.base_url, toolbox).run()
        requests = [r.body for r in llm.requests]
    assert toolbox.calls == [("shell", {"command": "ls"}), ("w2s_run", {"dataset": "math", "method": "vanilla"}),
                             ("submit", {"dataset": "math"})]
    # The second request answers c1 with a tool_result block carrying the tool's output.
    answer = requests[1]["messages"][-1]
    assert answer["role"] == "user"
    assert answer["content"][0]["type"] == "tool_result"
    assert answer["content"][0]["tool_use_id"] == "c1"
    assert "ran: ls" in str(answer["content"][0]["content"])
    assert requests[0]["system"][0]["text"] == "You are a test researcher."
    assert {t["name"] for t in requests[0]["tools"]} == {"shell", "w2s_run", "submit", "notebook_write"}
    # Three text-only answers in a row end the run (the script runs out after the third call).
    assert outcome.state == "done" and outcome.exit_code == 0


def test_transcript_records_every_event_in_order(files: RunFiles) -> None:
    script = [Reply([text("go"), tool_use("shell", {"command": "pwd"}, call_id="c1")], 100, 10)]
    with FakeLLM(script, exhausted=Reply([text("done")], 100, 10)) as llm:
        make_run(files, llm.base_url, FakeToolBox()).run()
    kinds = [e["type"] for e in files.events()]
    assert kinds[:7] == ["message", "message", "state", "usage", "message", "tool_call", "tool_result"]
    system, kickoff = files.events("message")[:2]
    assert system["role"] == "system" and kickoff["role"] == "user"
    call, result = files.events("tool_call")[0], files.events("tool_result")[0]
    assert call == {**call, "id": "c1", "name": "shell", "input": {"command": "pwd"}}
    assert result["id"] == "c1" and result["output"] == "ran: pwd" and result["is_error"] is False
    assert result["duration_s"] >= 0
    assert all(isinstance(e["t"], float) for e in files.events())
    assert files.events("state")[-1]["state"] == "done"


def test_cost_is_tokens_times_price_per_call_and_in_total(files: RunFiles) -> None:
    script = [Reply([tool_use("shell", {"command": "a"})], 1000, 100, cache_read_tokens=4000),
              Reply([tool_use("w2s_run", {"dataset": "math", "method": "soft"})], 2000, 200)]
    with FakeLLM(script, exhausted=Reply([text("done")], 3000, 300)) as llm:
        make_run(files, llm.base_url, FakeToolBox()).run()
    usage_events = files.events("usage")
    first = usage_events[0]
    assert first["input_tokens"] == 5000 and first["cache_read_tokens"] == 4000 and first["output_tokens"] == 100
    assert first["cost_usd"] == pytest.approx((1000 * 3.0 + 4000 * 0.3 + 100 * 15.0) / 1e6)
    usage = files.usage()
    assert usage["llm_calls"] == 5  # two scripted turns + three text-only answers
    assert usage["input_tokens"] == sum(e["input_tokens"] for e in usage_events)
    assert usage["output_tokens"] == 100 + 200 + 3 * 300
    assert usage["cost_usd"] == pytest.approx(sum(e["cost_usd"] for e in usage_events))
    assert usage["experiments"] == 1 and usage["submissions"] == 0
    assert usage["state"] == "done" and usage["priced"] is True
    assert usage["model"] == "anthropic/claude-test"


def test_unknown_model_costs_zero_with_a_warning_once(files: RunFiles) -> None:
    log: list[str] = []
    with FakeLLM([], exhausted=Reply([text("hmm")], 100, 10)) as llm:
        make_run(files, llm.base_url, FakeToolBox(), prices=PriceTable({}), log=log).run()
    usage = files.usage()
    assert usage["cost_usd"] == 0 and usage["priced"] is False and usage["unpriced_calls"] == 3
    assert "no price for model" in usage["price_note"]
    assert sum("no price for model" in line for line in log) == 1


def test_text_only_answers_get_a_nudge_before_the_run_ends(files: RunFiles) -> None:
    script = [[text("Thinking out loud.")], [tool_use("shell", {"command": "ls"})], [text("a")], [text("b")]]
    with FakeLLM(script, exhausted=Reply([text("c")])) as llm:
        outcome = make_run(files, llm.base_url, FakeToolBox()).run()
        second = llm.requests[1].body["messages"][-1]
    assert "without calling a tool" in str(second["content"])
    assert outcome.state == "done"
    assert len(files.events("tool_result")) == 1


def test_a_tool_that_raises_becomes_an_error_result(files: RunFiles) -> None:
    def explode(name: str, _args: dict[str, object]) -> None:
        if name == "shell":
            raise OSError("disk on fire")

    log: list[str] = []
    with FakeLLM([[tool_use("shell", {"command": "x"})]], exhausted=Reply([text("ok")])) as llm:
        make_run(files, llm.base_url, FakeToolBox(on_call=explode), log=log).run()
    result = files.events("tool_result")[0]
    assert result["is_error"] is True and "disk on fire" in result["output"]
    assert any("OSError" in line for line in log)


def test_the_prices_fixture_matches_the_model_string() -> None:
    assert PriceTable({"claude-test": TEST_PRICE}).lookup("anthropic/claude-test") == TEST_PRICE


def test_the_loop_works_against_an_openai_compatible_server(files: RunFiles) -> None:
    from aarlab.agents.runtime._prices import ModelPrice

    prices = PriceTable({"local/llama-test": ModelPrice(input=0, output=0)})
    with FakeLLM([Reply([tool_use("shell", {"command": "ls"}, call_id="o1")], 100, 10)],
                 exhausted=Reply([text("done")], 100, 10)) as llm:
        outcome = make_run(files, llm.openai_base_url, FakeToolBox(), model="openai-api/local/llama-test",
                           prices=prices).run()
        second = llm.requests[1].body["messages"]
    assert outcome.state == "done"
    assert second[0] == {"role": "system", "content": "You are a test researcher."}
    assert second[-2]["tool_calls"][0]["id"] == "o1"
    assert second[-1] == {**second[-1], "role": "tool", "tool_call_id": "o1", "content": "ran: ls"}
    assert files.usage()["priced"] is True and files.usage()["cost_usd"] == 0
