"""Admin operations on a state dir without a running server (the CLI's ``add-agent`` and ``finalize``).

They take the same write lock as the server, so they are safe while it runs.
"""

from __future__ import annotations

from pathlib import Path

from aarlab.server._errors import ApiError
from aarlab.server._leaderboard import finalize_change, write_final_table
from aarlab.server._schemas import AgentCreate, Leaderboard
from aarlab.server._scoring import load_answer_keys
from aarlab.server._state import ADMIN_NAME, StateError, create_agent_change, new_token, open_state
from aarlab.server._writer import changing


def add_agent(state_dir: Path | str, name: str, budget: int | None = None) -> str:
    """Create an agent in a state dir; returns its bearer token (the only time it is shown)."""
    from pydantic import ValidationError

    try:
        AgentCreate(name=name, budget=budget)
    except ValidationError as err:
        e = err.errors()[0]
        raise StateError(f"invalid agent {e['loc'][0]} {e['input']!r}: {e['msg']}") from None
    state = open_state(state_dir)
    token = new_token()
    try:
        with changing(state.db) as change:
            create_agent_change(name, token, budget, actor=ADMIN_NAME)(change)
    except ApiError as err:
        raise StateError(err.message) from None
    finally:
        state.db.dispose()
    return token


def finalize(state_dir: Path | str) -> tuple[Leaderboard, Path]:
    """Score the private parts, store the final table and close the campaign; returns it and its file.

    The audit head at that moment goes to ``final/audit-head.json`` (copy it out of the state dir: it is what
    ``aarlab audit verify --anchor`` checks a later database against)."""
    from aarlab.server._audit_anchor import write_anchor

    state = open_state(state_dir)
    try:
        with changing(state.db) as change:
            table = finalize_change(load_answer_keys(change.conn), ADMIN_NAME)(change)
        write_anchor(state.db, state.path / "final" / "audit-head.json")  # for the operator to copy elsewhere
    except ApiError as err:
        raise StateError(err.message) from None
    finally:
        state.db.dispose()
    return table, write_final_table(state.path, table)
