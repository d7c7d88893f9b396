"""Dashboard auth and safety over plain HTTP: sessions, CSRF, CSP, agent tokens, viewer tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from aarlab.client import ControlClient
from aarlab.server.dashboard._session import COOKIE
from tests.dashboard.seed import SeededCampaign


@contextmanager
def _login(seeded: SeededCampaign, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=seeded.url, follow_redirects=False) as client:
        r = client.post("/login", data={"token": token, "next": "/leaderboard"})
        assert r.status_code == 303 and r.headers["location"] == "/leaderboard", r.text
        yield client


def _csrf(client: httpx.Client, path: str = "/oversight") -> str:
    page = client.get(path).text
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_the_session_cookie_is_httponly_strict_and_holds_no_token(seeded: SeededCampaign) -> None:
    with _login(seeded, seeded.admin_token) as client:
        header = next(v for k, v in client.get("/").request.headers.items() if k == "cookie")
        assert seeded.admin_token not in header
        login = client.post("/login", data={"token": seeded.admin_token})
        set_cookie = login.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie and seeded.admin_token not in set_cookie


def test_pages_carry_a_strict_content_security_policy(seeded: SeededCampaign) -> None:
    r = httpx.get(seeded.url + "/", headers={"Authorization": f"Bearer {seeded.admin_token}"})
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text  # scripts only by src


def test_a_form_without_the_sessions_csrf_token_is_refused(seeded: SeededCampaign) -> None:
    with _login(seeded, seeded.admin_token) as client:
        r = client.post("/oversight/agents/alice/control", data={"action": "stop"})
        assert r.status_code == 403 and "CSRF" in r.text
        r = client.post("/oversight/agents/alice/control", data={"action": "stop", "csrf": "forged"})
        assert r.status_code == 403
        with _login(seeded, seeded.admin_token) as other:  # another session's token does not fit this one
            r = client.post("/oversight/agents/alice/control", data={"action": "stop", "csrf": _csrf(other)})
            assert r.status_code == 403
        r = client.post("/oversight/agents/alice/control", data={"action": "stop", "csrf": _csrf(client)},
                        headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
    with ControlClient(seeded.url, seeded.tokens["alice"]) as alice:
        assert alice.poll().state == "running"


def test_a_form_with_the_csrf_token_acts_and_bad_input_is_explained(seeded: SeededCampaign) -> None:
    with _login(seeded, seeded.admin_token) as client:
        token = _csrf(client)
        r = client.post("/oversight/agents/alice/messages", data={"body": "hello from the console", "csrf": token})
        assert r.status_code == 303 and r.headers["location"].startswith("/oversight?done=message")
        r = client.post("/oversight/agents/alice/budget", data={"usd": "-3", "csrf": token})
        assert r.status_code == 422 and "usd" in r.text
        r = client.post("/oversight/agents/nobody/control", data={"action": "pause", "csrf": token})
        assert r.status_code == 404 and "nobody" in r.text
    with ControlClient(seeded.url, seeded.tokens["alice"]) as alice:
        assert "hello from the console" in [m.body for m in alice.poll().messages]


def test_agent_tokens_are_refused_everywhere(seeded: SeededCampaign) -> None:
    agent = {"Authorization": f"Bearer {seeded.tokens['bob']}"}
    for path in ("/", "/leaderboard", "/forum", "/agents/bob", "/oversight"):
        assert httpx.get(seeded.url + path, headers=agent).status_code == 403, path
    assert httpx.get(seeded.url + "/dashboard/api/overview", headers=agent).status_code == 403
    r = httpx.post(seeded.url + "/login", data={"token": seeded.tokens["bob"]})
    assert r.status_code == 403 and COOKIE not in r.headers.get("set-cookie", "")


def test_without_credentials_pages_redirect_to_login_and_json_is_401(seeded: SeededCampaign) -> None:
    r = httpx.get(seeded.url + "/agents/alice")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/agents/alice"
    assert httpx.get(seeded.url + "/dashboard/api/points").status_code == 401
    forged = httpx.get(seeded.url + "/", cookies={COOKIE: "eyJyIjoiYWRtaW4ifQ.bm90LXNpZ25lZA"})
    assert forged.status_code == 303
    r = httpx.post(seeded.url + "/login", data={"token": "aar_wrong", "next": "//evil.example/"})
    assert r.status_code == 401


def test_a_viewer_sees_pages_but_cannot_act(seeded: SeededCampaign) -> None:
    with _login(seeded, seeded.viewer_token) as client:
        assert client.get("/agents/alice").status_code == 200
        assert client.get("/oversight").status_code == 403
        token = _csrf(client, "/")  # the logout form's token
        r = client.post("/oversight/agents/alice/control", data={"action": "stop", "csrf": token})
        assert r.status_code == 403
    with ControlClient(seeded.url, seeded.tokens["alice"]) as alice:
        assert alice.poll().state == "running"


def test_login_redirects_only_to_paths_on_this_site(seeded: SeededCampaign) -> None:
    with httpx.Client(base_url=seeded.url) as client:
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            r = client.post("/login", data={"token": seeded.admin_token, "next": target})
            assert r.status_code == 303 and r.headers["location"] == "/", target
