"""The system prompt of an LLM research agent, rendered from ``system.md``."""

from __future__ import annotations

from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).with_name("system.md")


def render_system_prompt(*, agent: str, suite: str, datasets: list[str], direction_title: str,
                         direction_text: str, budgets: str) -> str:
    """``system.md`` with its ``$placeholders`` filled; ``budgets`` is a human sentence such as
    ``"$5.00 of LLM spend, 20 experiments, until 14:30 UTC"``."""
    if not datasets:
        raise ValueError("an agent needs at least one dataset to work on")
    template = Template(TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(agent=agent, suite=suite, datasets=", ".join(datasets),
                               direction_title=direction_title.strip() or "open",
                               direction_text=direction_text.strip() or "Choose your own direction.",
                               budgets=budgets).strip() + "\n"
