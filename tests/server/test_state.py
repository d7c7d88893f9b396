"""The state dir: first-start import, secrets with tight permissions, agents, and clear errors."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from aarlab.server import StateError, add_agent, init_state, is_initialized, open_state, read_admin_token
from aarlab.server._state import ServerLock, StateInfo, database_url
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


def test_a_copied_state_dir_opens_its_own_database_not_the_original(fake_home: Path, tmp_path: Path) -> None:
    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    shutil.copytree(tmp_path / "s", tmp_path / "copy")
    (tmp_path / "s" / "scoring.db").rename(tmp_path / "s" / "moved.db")  # the original's database is gone
    copy = open_state(tmp_path / "copy")
    try:
        assert copy.db.url.endswith(str(tmp_path / "copy" / "scoring.db"))
    finally:
        copy.db.dispose()


def test_an_old_absolute_sqlite_path_outside_the_state_dir_is_refused_naming_both(fake_home: Path,
                                                                                   tmp_path: Path) -> None:
    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    shutil.copytree(tmp_path / "s", tmp_path / "copy")
    info_file = tmp_path / "copy" / "state.json"
    info = json.loads(info_file.read_text())
    info_file.write_text(json.dumps({**info, "db_url": f"sqlite:///{tmp_path / 's' / 'scoring.db'}"}))
    with pytest.raises(StateError, match="outside it") as caught:
        open_state(tmp_path / "copy")
    assert str(tmp_path / "copy") in str(caught.value) and str(tmp_path / "s" / "scoring.db") in str(caught.value)
    info_file.write_text(json.dumps({**info, "db_url": f"sqlite:///{tmp_path / 'copy' / 'scoring.db'}"}))
    open_state(tmp_path / "copy").db.dispose()  # an absolute path inside the dir still opens


def test_an_sqlite_db_outside_the_state_dir_is_refused_at_init(fake_home: Path, tmp_path: Path) -> None:
    with pytest.raises(StateError, match="must live in the state dir"):
        init_state(tmp_path / "s", suite=SUITE, home=fake_home, db_url=f"sqlite:///{tmp_path / 'elsewhere.db'}")


def test_database_urls_other_than_sqlite_are_used_as_given(tmp_path: Path) -> None:
    url = "postgresql+psycopg://u@host/db"
    assert database_url(tmp_path, StateInfo(state_id="x", suite="s", db_url=url, public_fraction=0.5,
                                            created_at="t")) == url


def test_is_initialized_is_false_for_a_missing_dir_and_true_after_init(fake_home: Path, tmp_path: Path) -> None:
    assert not is_initialized(tmp_path / "typo")
    init_state(tmp_path / "s", suite=SUITE, home=fake_home).db.dispose()
    assert is_initialized(tmp_path / "s")


_SUITE_FILE = f'''name = "{SUITE}"
description = "the fake suite, as a file"
datasets = ["math", "chat"]
[weak]
model = "built:weak"
[strong]
model = "built:strong"
[strong_train]
'''


def test_a_suite_file_is_accepted_as_w2s_run_accepts_it(fake_home: Path, tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(_SUITE_FILE)
    state = init_state(tmp_path / "s", suite=str(tmp_path / "mine.toml"), home=fake_home)
    state.db.dispose()
    assert state.info.suite == SUITE
    init_state(tmp_path / "s", suite=str(tmp_path / "mine.toml"), home=fake_home).db.dispose()  # and on reopening


def test_an_invalid_suite_file_is_a_state_error_naming_the_file(fake_home: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("name = 3\n")
    with pytest.raises(StateError, match="bad.toml"):
        init_state(tmp_path / "s", suite=str(tmp_path / "bad.toml"), home=fake_home)
