"""Operator control on a real server (SQLite and PostgreSQL): pause/resume/stop, messages, budgets, audit."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from aarlab.client import ControlClient, ScoringError
from aarlab.server import open_state, verify_chain
from aarlab.server._db import agent_messages, agents, audit_log
from tests.server.conftest import RunningServer
from tests.server.helpers import auth, constant


def _names(server: RunningServer) -> tuple[str, str]:
    import secrets

    name = f"ctl{secrets.token_hex(3)}"
    return name, server.add_agent(name=name)


def _audit_actions(server: RunningServer) -> list[str]:
    from sqlalchemy import select

    opened = open_state(server.state)
    try:
        with opened.db.reader.connect() as conn:
            return list(conn.execute(select(audit_log.c.action).order_by(audit_log.c.seq)).scalars())
    finally:
        opened.db.dispose()


def test_a_new_agent_is_running_with_no_messages(server: RunningServer) -> None:
    name, token = _names(server)
    with ControlClient(server.url, token) as agent:
        state = agent.poll()
    assert (state.agent, state.state, state.budget_usd, state.messages) == (name, "running", None, [])
    assert state.evaluation_budget == 20  # the server's default budget


def test_pause_resume_and_stop_change_what_the_agent_sees_and_are_audited(server: RunningServer) -> None:
    name, token = _names(server)
    with ControlClient(server.url, server.admin_token) as admin, ControlClient(server.url, token) as agent:
        assert admin.set_state(name, "pause").state == "paused"
        assert agent.poll().state == "paused"
        assert admin.set_state(name, "resume").state == "running"
        assert agent.poll().state == "running"
        assert admin.set_state(name, "stop").state == "stopped"
        assert agent.poll().state == "stopped"
    actions = _audit_actions(server)
    assert actions[-3:] == ["control.pause", "control.resume", "control.stop"]
    opened = open_state(server.state)
    try:
        assert verify_chain(opened.db).ok
    finally:
        opened.db.dispose()


def test_messages_arrive_oldest_first_and_since_skips_the_ones_seen(server: RunningServer) -> None:
    name, token = _names(server)
    with ControlClient(server.url, server.admin_token) as admin, ControlClient(server.url, token) as agent:
        first = admin.message(name, "focus on the chat dataset")
        second = admin.message(name, "and write down what you tried")
        assert second.id > first.id
        assert [m.body for m in agent.poll().messages] == [first.body, second.body]
        assert [m.id for m in agent.poll(since=first.id).messages] == [second.id]
        assert agent.poll(since=second.id).messages == []
        # reading does not consume: the harness tracks `since` itself
        assert len(agent.poll().messages) == 2
    assert _audit_actions(server)[-2:] == ["control.message", "control.message"]


def test_the_uds_client_reaches_the_same_control_state(server: RunningServer) -> None:
    name, token = _names(server)
    with ControlClient(server.url, server.admin_token) as admin:
        admin.set_state(name, "pause")
    with ControlClient(token=token, uds=server.uds_url.removeprefix("unix://")) as agent:
        assert agent.poll().state == "paused"


def test_an_evaluation_budget_change_takes_effect_on_the_next_submission(server: RunningServer) -> None:
    name, token = _names(server)
    ids = server.ids("math")
    with server.client(token) as scoring, ControlClient(server.url, server.admin_token) as admin:
        scoring.submit("math", constant(ids, 0.7))  # the principal is now cached by the server
        state = admin.budget(name, evaluations=1)
        assert state.evaluation_budget == 1 and state.budget_usd is None
        with pytest.raises(ScoringError) as refused:
            scoring.submit("math", constant(ids, 0.6))
        assert refused.value.status == 429 and "budget exhausted" in refused.value.message
        raised = admin.budget(name, usd=2.5, evaluations=3)
        assert (raised.budget_usd, raised.evaluation_budget) == (2.5, 3)
        assert scoring.submit("math", constant(ids, 0.6)).remaining_budget == 1
        assert admin.budget(name, usd=1.0).evaluation_budget == 3  # null leaves the evaluations as they are
    with ControlClient(server.url, token) as agent:
        assert agent.poll().budget_usd == 1.0
    opened = open_state(server.state)
    try:
        report = verify_chain(opened.db)
    finally:
        opened.db.dispose()
    assert report.ok, report.reason


def test_only_the_admin_may_control_and_agents_cannot_act_on_others(server: RunningServer) -> None:
    name, token = _names(server)
    other, _ = _names(server)
    with ControlClient(server.url, token) as agent:
        for call in (lambda: agent.set_state(other, "pause"), lambda: agent.message(other, "hi"),
                     lambda: agent.budget(other, evaluations=100), lambda: agent.set_state(name, "resume")):
            with pytest.raises(ScoringError) as refused:
                call()
            assert refused.value.status == 403
    with ControlClient(server.url, server.admin_token) as admin:
        with pytest.raises(ScoringError) as err:
            admin.poll()
        assert err.value.status == 403


def test_bad_control_requests_are_refused_with_clear_messages(server: RunningServer) -> None:
    name, _ = _names(server)
    base = f"{server.url}/api/v1/admin/agents"
    headers = auth(server.admin_token)
    r = httpx.post(f"{base}/{name}/control", json={"action": "explode"}, headers=headers)
    assert r.status_code == 422 and "action" in r.json()["detail"]
    r = httpx.post(f"{base}/nobody-here/control", json={"action": "pause"}, headers=headers)
    assert r.status_code == 404 and "nobody-here" in r.json()["detail"]
    r = httpx.post(f"{base}/{name}/messages", json={"body": ""}, headers=headers)
    assert r.status_code == 422
    r = httpx.post(f"{base}/{name}/messages", json={"body": "x" * 4001}, headers=headers)
    assert r.status_code == 422
    r = httpx.post(f"{base}/{name}/budget", json={}, headers=headers)
    assert r.status_code == 422 and "nothing to change" in r.json()["detail"]
    r = httpx.post(f"{base}/{name}/budget", json={"usd": -1}, headers=headers)
    assert r.status_code == 422
    r = httpx.post(f"{base}/admin/control", json={"action": "pause"}, headers=headers)
    assert r.status_code == 422 and "not an agent" in r.json()["detail"]
    r = httpx.get(f"{server.url}/api/v1/agents/me/control?since=-1", headers=auth(server.add_agent()))
    assert r.status_code == 422


def test_tampering_with_a_message_or_a_budget_breaks_the_audit_chain(make_server) -> None:  # noqa: ANN001
    server: RunningServer = make_server()
    name = "tamper"
    server.add_agent(name=name)
    with ControlClient(server.url, server.admin_token) as admin:
        admin.message(name, "original words")
        admin.budget(name, evaluations=5)
    opened = open_state(server.state)
    try:
        assert verify_chain(opened.db).ok
        with opened.db.writer.begin() as conn:
            conn.execute(update(agent_messages).values(body="forged words"))
        report = verify_chain(opened.db)
        assert not report.ok and "message" in (report.reason or "")
        with opened.db.writer.begin() as conn:
            conn.execute(update(agent_messages).values(body="original words"))
            conn.execute(update(agents).where(agents.c.name == name).values(budget=500))
        report = verify_chain(opened.db)
        assert not report.ok and "budget" in (report.reason or "")
    finally:
        opened.db.dispose()


def test_control_tables_are_added_to_a_state_dir_created_before_them(fake_home, tmp_path) -> None:  # noqa: ANN001
    from sqlalchemy import inspect

    from aarlab.server import init_state
    from aarlab.server._db import agent_controls, control_log
    from tests.server.fakesuite import SUITE

    state = init_state(tmp_path / "old", suite=SUITE, home=fake_home)
    with state.db.writer.begin() as conn:  # a state dir from before the control channel
        for t in (agent_messages, agent_controls, control_log):
            t.drop(conn)
    assert "agent_controls" not in inspect(state.db.writer).get_table_names()
    state.db.dispose()
    reopened = open_state(tmp_path / "old")
    try:
        assert {"agent_controls", "agent_messages", "control_log"} <= set(inspect(reopened.db.writer)
                                                                          .get_table_names())
    finally:
        reopened.db.dispose()
