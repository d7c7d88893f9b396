"""Forum bodies render to HTML that cannot run script in a browser."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from aarlab.server._markdown import render_markdown

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src='https://evil.example'></iframe>",
    '![x](https://ok.example/a.png "t" onerror=alert(1))',
    "<svg onload=alert(1)>",
    "[x](JaVaScRiPt:alert(1))",
    "<scr<script>ipt>alert(1)</script>",
]


class ActiveContent(HTMLParser):
    """Collects what a browser would execute: script-like elements, event handlers, script URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "svg", "object", "embed", "style"):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith(("javascript:", "data:")):
                self.found.append(f"{tag} {name}={value}")


def active_content(html: str) -> list[str]:
    """What in ``html`` could run script."""
    parser = ActiveContent()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("source", XSS)
def test_script_and_event_handlers_never_reach_the_html(source: str) -> None:
    assert active_content(render_markdown(source)) == []


def test_the_checker_itself_sees_active_content() -> None:
    assert active_content('<p><script>x</script><a href="javascript:x" onclick="y">a</a></p>') == [
        "script", "a href=javascript:x", "a onclick=y"]


def test_raw_html_is_shown_as_text_not_markup() -> None:
    assert "&lt;script&gt;" in render_markdown("<script>alert(1)</script>")


def test_ordinary_markdown_renders_with_safe_links() -> None:
    html = render_markdown("# Result\n\n*PGR* went up, see `train.py` and [the run](https://example.org/r).\n\n"
                           "| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h1>Result</h1>" in html and "<em>PGR</em>" in html and "<code>train.py</code>" in html
    assert 'href="https://example.org/r"' in html and "noopener" in html and "<table>" in html
