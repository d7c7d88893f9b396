"""Every budget kind stops the agent cleanly: a final ``budget_exhausted`` state, a note in the notebook, exit 0."""

from __future__ import annotations

import time

import pytest

from aarlab.agents.runtime import Budget
from tests.agents.fake_llm import FakeLLM, Reply, text, tool_use
from tests.agents.runtime.conftest import FakeToolBox, RunFiles, make_run


def busy(turn_tokens: tuple[int, int] = (1000, 100)) -> Reply:
    """A turn that keeps working (so only a budget can end the run)."""
    return Reply([tool_use("w2s_run", {"dataset": "math", "method": "vanilla"})], *turn_tokens)


def assert_stopped_cleanly(files: RunFiles, toolbox: FakeToolBox, words: str) -> None:
    final = files.events("state")[-1]
    assert final["state"] == "budget_exhausted" and words in final["reason"]
    assert files.usage()["state"] == "budget_exhausted"
    assert "Stopped:" in toolbox.notebook_text and words in toolbox.notebook_text


def test_usd_budget_stops_the_agent(files: RunFiles) -> None:
    toolbox = FakeToolBox()
    # Each turn costs 1000 * 3 / 1e6 + 100 * 15 / 1e6 = $0.0045; $0.01 lasts three turns.
    with FakeLLM([], exhausted=busy()) as llm:
        outcome = make_run(files, llm.base_url, toolbox, budget=Budget(usd=0.01)).run()
        calls = len(llm.requests)
    assert outcome.state == "budget_exhausted" and outcome.exit_code == 0
    assert calls == 3
    assert files.usage()["cost_usd"] == pytest.approx(3 * 0.0045)
    assert_stopped_cleanly(files, toolbox, "USD budget")
    # The third turn's call crossed the budget: its tool call is answered "not run", never executed.
    assert len([c for c in toolbox.calls if c[0] == "w2s_run"]) == 2
    assert files.events("tool_result")[-1]["output"].startswith("not run: USD budget exhausted")


def test_token_budget_stops_the_agent(files: RunFiles) -> None:
    toolbox = FakeToolBox()
    with FakeLLM([], exhausted=busy((400, 100))) as llm:
        outcome = make_run(files, llm.base_url, toolbox, budget=Budget(tokens=1200)).run()
        calls = len(llm.requests)
    assert outcome.state == "budget_exhausted"
    assert calls == 3  # 500 tokens per call: over 1200 after the third
    assert files.usage()["input_tokens"] + files.usage()["output_tokens"] == 1500
    assert_stopped_cleanly(files, toolbox, "token budget")


def test_experiment_budget_counts_tool_results_marked_as_experiments(files: RunFiles) -> None:
    toolbox = FakeToolBox()
    with FakeLLM([Reply([tool_use("shell", {"command": "ls"})], 10, 10)], exhausted=busy((10, 10))) as llm:
        outcome = make_run(files, llm.base_url, toolbox, budget=Budget(experiments=2)).run()
        calls = len(llm.requests)
    assert outcome.state == "budget_exhausted"
    assert calls == 3  # shell (not an experiment), then two experiments
    assert files.usage()["experiments"] == 2
    assert_stopped_cleanly(files, toolbox, "experiment budget")


def test_a_call_over_several_seeds_counts_each_and_may_not_overrun_the_budget(files: RunFiles) -> None:
    toolbox = FakeToolBox()
    three = {"dataset": "math", "method": "vanilla", "seeds": [0, 1, 2]}
    script = [Reply([tool_use("w2s_run", three)], 10, 10), Reply([tool_use("w2s_run", three)], 10, 10),
              Reply([tool_use("w2s_run", {**three, "seeds": [3, 4]})], 10, 10)]
    with FakeLLM(script, exhausted=Reply([text("done")], 10, 10)) as llm:
        outcome = make_run(files, llm.base_url, toolbox, budget=Budget(experiments=5)).run()
    assert [c[1]["seeds"] for c in toolbox.calls if c[0] == "w2s_run"] == [[0, 1, 2], [3, 4]]  # the 2nd: not run
    refused = [e for e in files.events() if e["type"] == "tool_result" and e["is_error"]]
    assert len(refused) == 1 and "3 seeds would be 3 experiments and only 2 are left" in refused[0]["output"]
    assert files.usage()["experiments"] == 5 and outcome.state == "budget_exhausted"


def test_wall_budget_stops_the_agent_at_its_deadline(files: RunFiles) -> None:
    toolbox = FakeToolBox()
    deadline = time.time() + 0.6
    with FakeLLM([], exhausted=Reply([tool_use("shell", {"command": "sleep"})], 10, 10, delay_s=0.25)) as llm:
        outcome = make_run(files, llm.base_url, toolbox, budget=Budget(deadline=deadline)).run()
    assert outcome.state == "budget_exhausted"
    assert time.time() >= deadline
    assert files.usage()["budget"]["wall_s"] == pytest.approx(deadline - files.usage()["started_at"], abs=0.01)
    assert_stopped_cleanly(files, toolbox, "wall-time budget")


def test_an_exhausted_budget_stops_before_any_model_call(files: RunFiles) -> None:
    with FakeLLM([]) as llm:
        outcome = make_run(files, llm.base_url, FakeToolBox(), budget=Budget(deadline=time.time() - 1)).run()
        assert llm.requests == []
    assert outcome.state == "budget_exhausted"


def test_usage_json_shows_the_budget(files: RunFiles) -> None:
    with FakeLLM([], exhausted=Reply([text("done")], 10, 10)) as llm:
        make_run(files, llm.base_url, FakeToolBox(), budget=Budget(usd=2.5, tokens=10_000, experiments=7)).run()
    budget = files.usage()["budget"]
    assert budget == {"usd": 2.5, "tokens": 10_000, "wall_s": None, "experiments": 7}
