"""Server settings files."""

from __future__ import annotations

from pathlib import Path

import pytest

from aarlab.server import ServerSettings, SettingsError, load_settings


def test_no_settings_file_gives_the_defaults() -> None:
    assert load_settings(None) == ServerSettings()
    assert ServerSettings().default_budget == 50


def test_a_settings_file_may_use_a_server_table(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[server]\ndefault_budget = 7\nrate_per_s = 5\n")
    assert load_settings(path).default_budget == 7


@pytest.mark.parametrize(("text", "message"), [("default_budget = -1", "default_budget"),
                                               ("budget = 3", "Extra inputs"), ("x = [", "invalid TOML")])
def test_a_bad_settings_file_names_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(path) in str(err.value) and message in str(err.value)
