"""The dashboard's view of an agent: which state the operator sees once the agent has finished."""

from __future__ import annotations

from types import SimpleNamespace

from aarlab.server.dashboard._data import AgentView
from aarlab.server.dashboard._site import template_environment


def test_a_finished_agent_shows_its_end_state_not_a_running_control() -> None:
    view = AgentView("alice", control_state="running", harness_state="done")
    assert view.finished and view.operator_state == "finished (done)" and view.state == "done"


def test_an_agent_still_at_work_shows_the_operators_control() -> None:
    assert AgentView("alice", harness_state="running").operator_state == "running"
    assert AgentView("alice").operator_state == "running"  # nothing reported yet
    assert AgentView("bob", control_state="paused", harness_state="running").operator_state == "paused"


def test_an_operator_stop_stays_stop_after_the_agent_ends() -> None:
    assert AgentView("bob", control_state="stopped", harness_state="stopped").operator_state == "stopped"


def test_the_oversight_page_and_the_agent_page_show_the_finished_state() -> None:
    env = template_environment()
    view = AgentView("alice", control_state="running", harness_state="budget_exhausted")
    data = SimpleNamespace(agents=[view], campaign={}, evaluations=[], datasets=[])
    oversight = env.get_template("oversight.html").render(data=data, csrf="x", done=None, visitor=None)
    assert 'data-field="control-state">finished (budget_exhausted)</span>' in oversight
    page = env.get_template("agent.html").render(data=data, agent=view, visitor=None)
    assert 'id="control-state">finished (budget_exhausted)</div>' in page
