"""The state dir: first-start import, secrets with tight permissions, agents, and clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from aarlab.server import StateError, add_agent, init_state, open_state, read_admin_token
from aarlab.server._state import ServerLock
from tests.server.fakesuite import SUITE


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_imports_ground_truth_and_keeps_secrets_private(fake_home: Path, tmp_path: Path) -> None:
    state = init_state(tmp_path / "s", suite=SUITE, home=fake_home)
    state.db.dispose()
    assert _mode(tmp_path / "s") == 0o700
    for name in ("secret.key", "admin.token", "state.json", "scoring.db"):
        assert _mode(tmp_path / "s" / name) == 0o600
    assert read_admin_token(tmp_path / "s").startswith("aar_")
    assert state.info.suite == SUITE and state.info.initialized


def test_a_second_start_reuses_the_state_and_keeps_the_admin_token(fake_home: Path, tmp_path: Path) -> None:
    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    token = read_admin_token(tmp_path / "s")
    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    assert read_admin_token(tmp_path / "s") == token


def test_a_state_dir_serves_one_suite(fake_home: Path, tmp_path: Path) -> None:
    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    with pytest.raises(StateError, match="holds suite 'fake', not 'tiny'"):
        init_state(tmp_path / "s", suite="tiny", home=fake_home)


def test_an_unbuilt_suite_tells_the_user_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="aarlab suites build tiny"):
        init_state(tmp_path / "s", suite="tiny", home=tmp_path / "empty-home")


def test_commands_on_an_uninitialized_state_dir_say_how_to_initialize_it(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="aarlab server init"):
        open_state(tmp_path / "nothing")
    with pytest.raises(StateError, match="aarlab server init"):
        add_agent(tmp_path / "nothing", "alice")


def test_agent_names_are_unique_and_validated(fake_home: Path, tmp_path: Path) -> None:
    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    add_agent(tmp_path / "s", "alice")
    with pytest.raises(StateError, match="already exists"):
        add_agent(tmp_path / "s", "alice")
    with pytest.raises(StateError, match="invalid agent name"):
        add_agent(tmp_path / "s", "bad name!")


def test_only_one_server_may_hold_a_state_dir(tmp_path: Path) -> None:
    with ServerLock(tmp_path), pytest.raises(StateError, match="another server"):
        ServerLock(tmp_path).__enter__()
