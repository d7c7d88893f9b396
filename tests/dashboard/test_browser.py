"""The dashboard in a real browser (Debian's chromium, headless) against a real server with a seeded campaign.

Skips when Playwright or /usr/bin/chromium is missing (``scripts/setup.sh dev`` installs both); never runs
``playwright install``. Screenshots go to the test-artifacts dir (see ``conftest.artifacts``);
``scripts/refresh_dashboard_screenshots.sh`` copies them into docs/img.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aarlab.client import ControlClient, ScoringClient
from tests.dashboard.seed import XSS_TITLE, SeededCampaign
from tests.server.fakesuite import fake_test_ids

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                               "(pip install -e '.[dev]')")
if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)

#: How long a live update may take to show (a bound on waiting, not a timing assertion).
LIVE_WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium (no sandbox: tests may run as root in a container)."""
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


class Visit:
    """A logged-in browser page that records every dialog (an executed alert would open one)."""

    def __init__(self, browser: Any, seeded: SeededCampaign, token: str | None) -> None:
        self.seeded = seeded
        self.context = browser.new_context(viewport={"width": 1360, "height": 900})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        if token is not None:
            self.login(token)

    def login(self, token: str) -> None:
        self.page.goto(self.seeded.url + "/login")
        self.page.fill("input[name=token]", token)
        self.page.click("form.login button[type=submit]")
        self.page.wait_for_load_state()

    def go(self, path: str) -> Any:
        response = self.page.goto(self.seeded.url + path)
        self.page.wait_for_load_state()
        return response

    def shot(self, artifacts: Path, name: str) -> None:
        self.page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


@pytest.fixture
def admin(browser: Any, seeded: SeededCampaign) -> Iterator[Visit]:
    visit = Visit(browser, seeded, seeded.admin_token)
    yield visit
    visit.context.close()


PAGES = {"overview": ("/", "Overview"), "leaderboard": ("/leaderboard", "Leaderboard"),
         "forum": ("/forum", "Forum"), "agent": ("/agents/alice", "Agent alice"),
         "oversight": ("/oversight", "Oversight")}


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_renders_for_the_admin(admin: Visit, artifacts: Path, name: str) -> None:
    path, heading = PAGES[name]
    response = admin.go(path)
    assert response.status == 200
    assert admin.page.locator("h1").first.inner_text().startswith(heading)
    assert admin.page.locator("header.top nav a").count() == 4
    admin.shot(artifacts, name)
    assert admin.dialogs == []


def test_the_chart_has_a_point_per_evaluation_and_the_baselines(admin: Visit) -> None:
    admin.go("/")
    math = admin.page.locator("figure.chart[data-dataset=math] svg")
    assert math.locator("circle.point").count() == 6  # alice 3 + bob 3 on math
    assert admin.page.locator("figure.chart[data-dataset=chat] circle.point").count() == 1
    labels = [math.locator("line.baseline").nth(i).get_attribute("data-label")
              for i in range(math.locator("line.baseline").count())]
    assert labels == ["weak", "vanilla", "best literature (confidence)", "ceiling"]
    agents = {math.locator("circle.point").nth(i).get_attribute("data-agent") for i in range(6)}
    assert agents == {"alice", "bob"}


def test_forum_search_finds_matching_posts_only(admin: Visit) -> None:
    admin.go("/forum")
    assert admin.page.locator("article.post").count() == 3  # threads, not replies
    admin.page.fill("#forum-q", "confidence")
    admin.page.click("#forum-search")
    admin.page.wait_for_load_state()
    titles = admin.page.locator("article.post .title").all_inner_texts()
    assert titles == ["Confidence loss lifts PGR on math"]
    assert "verified: math" in admin.page.locator("article.post .verified").first.inner_text()
    admin.page.select_option("select[name=author]", "bob")
    admin.page.fill("#forum-q", "")
    admin.page.click("#forum-search")
    admin.page.wait_for_load_state()
    assert admin.page.locator("article.post").count() == 1


def _control_state(seeded: SeededCampaign, agent: str) -> str:
    with ControlClient(seeded.url, seeded.tokens[agent]) as client:
        return client.poll().state


def test_pause_and_resume_change_the_agents_state(admin: Visit, artifacts: Path) -> None:
    admin.go("/oversight")
    row = admin.page.locator("tr[data-agent=bob]")
    row.locator("button[data-action=pause]").click()
    admin.page.wait_for_load_state()
    assert "pause bob" in admin.page.locator("#done").inner_text()
    assert admin.page.locator("tr[data-agent=bob] [data-field=control-state]").inner_text() == "paused"
    assert _control_state(admin.seeded, "bob") == "paused"
    assert _control_state(admin.seeded, "alice") == "running"
    admin.go("/agents/bob")
    assert admin.page.locator("#agent-state").inner_text() == "paused"
    admin.go("/oversight")
    admin.page.locator("tr[data-agent=bob] button[data-action=resume]").click()
    admin.page.wait_for_load_state()
    assert admin.page.locator("tr[data-agent=bob] [data-field=control-state]").inner_text() == "running"
    assert _control_state(admin.seeded, "bob") == "running"
    assert "control.resume" in admin.page.locator("table.audit").inner_text()


def test_a_message_and_a_budget_change_from_the_console_reach_the_agent(admin: Visit) -> None:
    admin.go("/oversight")
    row = admin.page.locator("tr[data-agent=alice]")
    row.locator("input[name=body]").fill("please write down the seeds you used")
    row.locator("button[data-action=message]").click()
    admin.page.wait_for_load_state()
    row = admin.page.locator("tr[data-agent=alice]")
    row.locator("input[name=usd]").fill("12.5")
    row.locator("input[name=evaluations]").fill("30")
    row.locator("button[data-action=budget]").click()
    admin.page.wait_for_load_state()
    with ControlClient(admin.seeded.url, admin.seeded.tokens["alice"]) as client:
        state = client.poll()
    assert [m.body for m in state.messages][-1] == "please write down the seeds you used"
    assert (state.budget_usd, state.evaluation_budget) == (12.5, 30)


def test_an_agent_token_is_refused(browser: Any, seeded: SeededCampaign) -> None:
    visit = Visit(browser, seeded, None)
    try:
        visit.login(seeded.tokens["alice"])
        assert "agent tokens cannot open the dashboard" in visit.page.locator("#login-error").inner_text()
        assert visit.context.cookies() == []
        assert visit.go("/").url.endswith("/login?next=/")
        headers = visit.context.new_page()
        headers.set_extra_http_headers({"Authorization": f"Bearer {seeded.tokens['alice']}"})
        response = headers.goto(seeded.url + "/")
        assert response.status == 403
        assert "agent tokens cannot open" in headers.locator("#error-message").inner_text()
    finally:
        visit.context.close()


def test_a_viewer_can_look_but_not_act(browser: Any, seeded: SeededCampaign) -> None:
    visit = Visit(browser, seeded, seeded.viewer_token)
    try:
        assert visit.go("/").status == 200
        assert visit.page.locator("header.top nav a").count() == 3  # no Oversight link
        assert visit.go("/oversight").status == 403
    finally:
        visit.context.close()


def test_the_xss_payload_in_a_post_does_not_execute(admin: Visit, artifacts: Path) -> None:
    admin.go("/forum")
    post = admin.page.locator("article.post", has_text="look here")
    assert post.locator(".title").inner_text() == XSS_TITLE  # shown as text
    post.locator("a.title").click()
    admin.page.wait_for_load_state()
    for path in (None, "/agents/alice", "/agents/bob"):
        if path:
            admin.go(path)
        assert admin.page.evaluate("typeof window.__xss") == "undefined"
        assert admin.page.locator(".post .body script, .notebook script, .transcript script, "
                                  "[onerror], [onload]").count() == 0
        assert admin.page.locator(".post .body a[href^='javascript']").count() == 0
    assert admin.page.locator(".transcript b").count() == 0  # tool output is text, not markup
    admin.go("/forum?q=odd")
    admin.page.wait_for_timeout(500)
    assert admin.dialogs == []


def test_live_updates_arrive_without_reloading(admin: Visit) -> None:
    admin.go("/agents/alice")
    admin.page.evaluate("window.__marker = 'same page'")
    transcript = admin.seeded.campaign / "agents" / "alice" / "transcript.jsonl"
    with transcript.open("a") as fh:  # completes the cut line the seed left, then a new event
        fh.write('"}\n' + json.dumps({"t": time.time(), "type": "operator", "content": "live event arrived",
                                       "message_id": 99}) + "\n")
    admin.page.wait_for_selector("text=live event arrived", timeout=LIVE_WAIT_MS)
    assert admin.page.evaluate("window.__marker") == "same page"
    admin.go("/")
    admin.page.evaluate("window.__marker = 'same page'")
    before = int(admin.page.locator("#evaluation-count").inner_text())
    home = Path(json.loads((admin.seeded.campaign / "campaign.json").read_text())["home"])
    with ScoringClient(admin.seeded.url, admin.seeded.tokens["alice"]) as client:
        client.submit("chat", {i: 0.3 for i in fake_test_ids(home, "chat")}, method="live")
    # expect() polls the DOM without evaluating strings, which the page's CSP (no 'unsafe-eval') would block
    sync_api.expect(admin.page.locator("#evaluation-count")).to_have_text(str(before + 1), timeout=LIVE_WAIT_MS)
    sync_api.expect(admin.page.locator("figure.chart[data-dataset=chat] circle.point")).to_have_count(
        2, timeout=LIVE_WAIT_MS)
    assert admin.page.evaluate("window.__marker") == "same page"
