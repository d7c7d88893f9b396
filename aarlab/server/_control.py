"""Operator control of agents: pause / resume / stop, messages and budget changes, each in the audit chain.

Each change is a function of a :class:`Change` (see :mod:`aarlab.server._writer`), so it commits together with its
audit record. ``control_log`` keeps every action's payload, which lets ``audit verify`` recompute the payload
hashes, replay the control state and learn the evaluation budget an agent was created with (a budget change
updates ``agents.budget``, which ``agent.create`` covered).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from aarlab.server._audit import canonical_json, sha256_hex, utc_now
from aarlab.server._db import agent_controls, agent_messages, agents, control_log
from aarlab.server._errors import ApiError
from aarlab.server._schemas_control import ACTION_STATE, ControlMessage, ControlState
from aarlab.server._writer import Change


def _agent_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(agents.c.id, agents.c.name, agents.c.is_admin, agents.c.budget)
                       .where(agents.c.name == name)).first()
    if row is None:
        raise ApiError(404, f"no agent named {name!r}; list agents on the dashboard or with the leaderboard")
    if row.is_admin:
        raise ApiError(422, "the admin is not an agent: it cannot be paused, messaged or given a budget")
    return row


def _control_row(conn: Connection, agent_id: int) -> Any:
    return conn.execute(select(agent_controls).where(agent_controls.c.agent_id == agent_id)).first()


def _log(change: Change, agent_id: int, actor: str, action: str, payload: dict[str, Any], time: str) -> int:
    record = change.audit(actor, action, payload, time=time)
    change.insert(control_log, {"audit_seq": record.seq, "agent_id": agent_id, "action": action,
                                "payload": canonical_json(payload).decode()})
    return record.seq


def _store_control(change: Change, agent_id: int, existing: Any, values: dict[str, Any]) -> None:
    if existing is None:
        change.insert(agent_controls, {"agent_id": agent_id, "state": "running", "budget_usd": None, **values})
    else:
        change.conn.execute(update(agent_controls).where(agent_controls.c.agent_id == agent_id).values(**values))


def set_state_change(name: str, action: str, actor: str) -> Callable[[Change], None]:
    """A state change that pauses, resumes or stops agent ``name`` (``control.pause|resume|stop``)."""
    if action not in ACTION_STATE:
        raise ApiError(422, f"unknown action {action!r}; expected one of {', '.join(ACTION_STATE)}")

    def apply(change: Change) -> None:
        change.flush()  # it reads agents and agent_controls
        agent = _agent_row(change.conn, name)
        existing = _control_row(change.conn, agent.id)
        when = utc_now()
        state = ACTION_STATE[action]
        previous = existing.state if existing is not None else "running"
        payload = {"agent": name, "state": state, "previous": previous, "time": when}
        seq = _log(change, agent.id, actor, f"control.{action}", payload, when)
        _store_control(change, agent.id, existing, {"state": state, "updated_at": when, "audit_seq": seq})

    return apply


def message_change(name: str, body: str, actor: str) -> Callable[[Change], ControlMessage]:
    """A state change that leaves a message for agent ``name`` (``control.message``)."""

    def apply(change: Change) -> ControlMessage:
        change.flush()
        agent = _agent_row(change.conn, name)
        when = utc_now()
        payload = {"agent": name, "body": body, "created_by": actor, "created_at": when}
        seq = _log(change, agent.id, actor, "control.message", payload, when)
        change.insert(agent_messages, {"id": seq, "agent_id": agent.id, "body": body, "created_at": when,
                                       "created_by": actor})
        return ControlMessage(id=seq, body=body, created_at=when)

    return apply


def budget_change(name: str, usd: float | None, evaluations: int | None, actor: str) -> Callable[[Change], None]:
    """A state change that sets agent ``name``'s dollar and/or evaluation budget (``control.budget``)."""
    if usd is None and evaluations is None:
        raise ApiError(422, "nothing to change: give 'usd' (dollars) and/or 'evaluations' (per dataset)")

    def apply(change: Change) -> None:
        change.flush()
        agent = _agent_row(change.conn, name)
        existing = _control_row(change.conn, agent.id)
        when = utc_now()
        usd_before = existing.budget_usd if existing is not None else None
        usd_after = usd_before if usd is None else usd
        evals_after = agent.budget if evaluations is None else evaluations
        payload = {"agent": name, "usd_before": usd_before, "usd_after": usd_after,
                   "evaluations_before": agent.budget, "evaluations_after": evals_after, "time": when}
        seq = _log(change, agent.id, actor, "control.budget", payload, when)
        if evaluations is not None:
            change.conn.execute(update(agents).where(agents.c.id == agent.id).values(budget=evaluations))
        _store_control(change, agent.id, existing, {"budget_usd": usd_after, "updated_at": when, "audit_seq": seq})

    return apply


def read_control(conn: Connection, name: str, default_budget: int, since: int = 0) -> ControlState:
    """Agent ``name``'s control state and its messages with id > ``since`` (oldest first)."""
    agent = _agent_row(conn, name)
    row = _control_row(conn, agent.id)
    messages = conn.execute(select(agent_messages.c.id, agent_messages.c.body, agent_messages.c.created_at)
                            .where(agent_messages.c.agent_id == agent.id, agent_messages.c.id > since)
                            .order_by(agent_messages.c.id)).all()
    return ControlState(agent=name, state=row.state if row is not None else "running",
                        budget_usd=row.budget_usd if row is not None else None,
                        evaluation_budget=default_budget if agent.budget is None else agent.budget,
                        messages=[ControlMessage(id=m.id, body=m.body, created_at=m.created_at) for m in messages])


def control_states(conn: Connection) -> dict[int, tuple[str, float | None]]:
    """Every controlled agent's (state, budget_usd) by agent id (agents without a row are running)."""
    return {r.agent_id: (r.state, r.budget_usd)
            for r in conn.execute(select(agent_controls.c.agent_id, agent_controls.c.state,
                                         agent_controls.c.budget_usd))}


# --- verification ---------------------------------------------------------------------------------------------------

def created_budgets(conn: Connection) -> dict[int, int | None]:
    """The evaluation budget each re-budgeted agent was created with (the first change's ``evaluations_before``)."""
    out: dict[int, int | None] = {}
    for r in conn.execute(select(control_log.c.agent_id, control_log.c.payload)
                          .where(control_log.c.action == "control.budget").order_by(control_log.c.audit_seq)):
        if r.agent_id not in out:
            out[r.agent_id] = json.loads(r.payload).get("evaluations_before")
    return out


def control_breaks(conn: Connection, hashes: Mapping[int, str]) -> list[tuple[int, str]]:
    """(seq, reason) for control rows that differ from what their audit records cover."""
    broken: list[tuple[int, str]] = []
    replay: dict[int, dict[str, Any]] = {}
    for r in conn.execute(select(control_log).order_by(control_log.c.audit_seq)).mappings():
        seq = r["audit_seq"]
        if hashes.get(seq) != sha256_hex(r["payload"].encode()):
            broken.append((seq, f"control action {seq} differs from what its record covers"))
            continue
        payload = json.loads(r["payload"])
        if r["action"] == "control.message":
            continue
        state = replay.setdefault(r["agent_id"], {"state": "running", "budget_usd": None, "seq": seq})
        state["seq"] = seq
        if r["action"] == "control.budget":
            state["budget_usd"] = payload.get("usd_after")
            state["evaluations"] = payload.get("evaluations_after")
        else:
            state["state"] = payload.get("state")
    for c in conn.execute(select(agent_controls)).mappings():
        want = replay.get(c["agent_id"])
        if want is None or (c["state"], c["budget_usd"], c["audit_seq"]) != (want["state"], want["budget_usd"],
                                                                            want["seq"]):
            broken.append((c["audit_seq"], f"control state of agent id {c['agent_id']} differs from its records"))
    budgets = dict(conn.execute(select(agents.c.id, agents.c.budget)).all())
    for agent_id, want in replay.items():
        if "evaluations" in want and budgets.get(agent_id) != want["evaluations"]:
            broken.append((want["seq"], f"evaluation budget of agent id {agent_id} differs from its last record"))
    logged = {r.audit_seq: r.payload for r in conn.execute(
        select(control_log.c.audit_seq, control_log.c.payload).where(control_log.c.action == "control.message"))}
    for m in conn.execute(select(agent_messages)).mappings():
        payload = json.loads(logged.get(m["id"], "{}"))
        if (payload.get("body"), payload.get("created_at")) != (m["body"], m["created_at"]):
            broken.append((m["id"], f"operator message {m['id']} differs from what its record covers"))
    return broken
