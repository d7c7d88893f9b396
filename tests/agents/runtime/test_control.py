"""Operator control, polled before every turn: pause waits without spending, stop ends the run, messages reach
the model marked as the operator's, a dollar budget set by the operator applies."""

from __future__ import annotations

from aarlab.agents.runtime import StaticState
from tests.agents.fake_llm import FakeLLM, Reply, text, tool_use
from tests.agents.runtime.conftest import FakeToolBox, Msg, RunFiles, ScriptedControl, make_run

WORK = Reply([tool_use("shell", {"command": "ls"})], 1000, 100)


def test_stop_ends_the_run_before_the_next_model_call(files: RunFiles) -> None:
    control = ScriptedControl([StaticState(), StaticState(), StaticState("stopped")])
    with FakeLLM([], exhausted=WORK) as llm:
        outcome = make_run(files, llm.base_url, FakeToolBox(), control=control).run()
        calls = len(llm.requests)
    assert calls == 2
    assert outcome.state == "stopped" and outcome.exit_code == 0
    assert files.events("state")[-1] == {**files.events("state")[-1], "state": "stopped",
                                         "reason": "stopped by the operator"}
    assert files.usage()["state"] == "stopped"


def test_pause_waits_without_calling_the_model_until_resumed(files: RunFiles) -> None:
    control = ScriptedControl([StaticState(), StaticState("paused"), StaticState("paused"), StaticState("paused"),
                               StaticState(), StaticState("stopped")])
    sleeps: list[float] = []
    requests_at_sleep: list[int] = []
    with FakeLLM([], exhausted=WORK) as llm:
        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            requests_at_sleep.append(len(llm.requests))

        make_run(files, llm.base_url, FakeToolBox(), control=control, sleep=sleep).run()
        calls = len(llm.requests)
    assert len(sleeps) == 3 and set(requests_at_sleep) == {1}  # no model call while paused
    assert calls == 2
    states = [(e["state"], e["reason"]) for e in files.events("state")]
    assert ("paused", "paused by the operator") in states
    assert ("running", "resumed by the operator") in states


def test_operator_messages_reach_the_model_once_marked_as_the_operators(files: RunFiles) -> None:
    message = Msg(7, "Please try the probe lane first.")
    control = ScriptedControl([StaticState(), StaticState(messages=[message]), StaticState(messages=[message]),
                               StaticState("stopped")])
    with FakeLLM([], exhausted=WORK) as llm:
        make_run(files, llm.base_url, FakeToolBox(), control=control).run()
        second = llm.requests[1].body["messages"]
    assert control.polls == [0, 0, 7, 7]  # the harness asks only for messages it has not seen
    delivered = [e for e in files.events("operator")]
    assert len(delivered) == 1 and delivered[0]["message_id"] == 7
    assert delivered[0]["content"] == "Please try the probe lane first."
    last_user = str(second[-1]["content"])
    assert "[operator]" in last_user and "probe lane first" in last_user


def test_the_operators_usd_budget_overrides_the_assignments(files: RunFiles) -> None:
    control = ScriptedControl([StaticState(budget_usd=0.005)])
    with FakeLLM([], exhausted=WORK) as llm:
        outcome = make_run(files, llm.base_url, FakeToolBox(), control=control).run()
        calls = len(llm.requests)
    assert outcome.state == "budget_exhausted" and "USD budget" in outcome.reason
    assert calls == 2  # $0.0045 per call
    assert files.usage()["budget"]["usd"] == 0.005


def test_control_that_cannot_be_reached_does_not_stop_the_agent(files: RunFiles) -> None:
    class Down:
        def poll(self, since: int = 0) -> StaticState:
            raise ConnectionError("no socket")

    log: list[str] = []
    with FakeLLM([WORK], exhausted=Reply([text("done")])) as llm:
        outcome = make_run(files, llm.base_url, FakeToolBox(), control=Down(), log=log).run()
    assert outcome.state == "done"
    assert sum("cannot read operator control" in line for line in log) == 1
