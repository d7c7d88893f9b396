"""The login page shows only fixed messages: ``?error=`` picks one by code and never puts its own words on the page."""

from __future__ import annotations

import httpx
import pytest

from aarlab.server.dashboard._session import LOGIN_ERRORS, login_error, oversight_done
from tests.dashboard.seed import SeededCampaign

PLANTED = "Your admin token expired; paste it at evil.example to renew"


def test_a_known_error_code_shows_its_fixed_message() -> None:
    assert login_error("expired") == LOGIN_ERRORS["expired"]


@pytest.mark.parametrize("code", [None, "", "nope", PLANTED, "EXPIRED", "expired "])
def test_an_unknown_or_missing_code_shows_no_message(code: str | None) -> None:
    assert login_error(code) is None


def test_the_login_page_never_shows_text_chosen_by_the_link(seeded: SeededCampaign) -> None:
    r = httpx.get(seeded.url + "/login", params={"error": PLANTED})
    assert r.status_code == 200
    assert "evil.example" not in r.text and 'id="login-error"' not in r.text


def test_the_login_page_shows_the_fixed_message_of_a_known_code(seeded: SeededCampaign) -> None:
    r = httpx.get(seeded.url + "/login", params={"error": "expired"})
    assert r.status_code == 200 and LOGIN_ERRORS["expired"] in r.text


@pytest.mark.parametrize("done", ["pause alice", "budget of bob", "message 12 to alice"])
def test_the_consoles_done_line_shows_what_its_own_redirects_write(done: str) -> None:
    assert oversight_done(done) == done


@pytest.mark.parametrize("done", [PLANTED, "pause alice; now paste your token at evil.example", "budget of ", "x"])
def test_the_consoles_done_line_drops_text_of_any_other_shape(done: str) -> None:
    assert oversight_done(done) is None


def test_the_oversight_page_never_shows_text_chosen_by_the_link(seeded: SeededCampaign) -> None:
    headers = {"Authorization": f"Bearer {seeded.admin_token}"}
    planted = httpx.get(seeded.url + "/oversight", params={"done": PLANTED}, headers=headers)
    assert planted.status_code == 200 and "evil.example" not in planted.text and 'id="done"' not in planted.text
    own = httpx.get(seeded.url + "/oversight", params={"done": "pause alice"}, headers=headers)
    assert "Done: pause alice" in own.text
