"""Reading what the campaign and the agent harness write in the campaign dir, tolerantly.

Other processes write these files while the dashboard reads them: a file may be missing, half-written (the last
transcript line), of an older or newer layout. Readers here never raise on that; they return what they can and
ignore unknown keys and event types. Layout: see ``aarlab/campaign/_state.py`` and the harness contract.

Everything under ``agents/`` is read through :mod:`aarlab._agentfiles` (an agent controls its workspace: a planted
symlink or FIFO is refused, never followed or waited on, and reads are bounded).
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aarlab._agentfiles import UnsafeAgentFile, list_agent_dir, open_agent_file, read_agent_file

#: The most transcript bytes read from the end of a file for one page or poll.
TAIL_BYTES = 512 * 1024
MAX_NOTEBOOK_BYTES = 256 * 1024
#: The largest ``agent.json`` / ``usage.json`` read.
MAX_AGENT_JSON_BYTES = 1024 * 1024


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_agent_json(campaign: Path, name: str, filename: str) -> dict[str, Any] | None:
    """A JSON object from ``agents/NAME/FILENAME`` (no link followed, bounded), or None when missing or refused."""
    try:
        value = json.loads(read_agent_file(campaign, f"agents/{name}/{filename}", MAX_AGENT_JSON_BYTES))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def find_campaign_dir(state_dir: Path, campaign: Path | None) -> Path | None:
    """The campaign dir: ``campaign`` if given, else the state dir's parent when it holds a ``campaign.json``."""
    if campaign is not None:
        return campaign.expanduser().resolve()
    parent = state_dir.resolve().parent
    return parent if (parent / "campaign.json").is_file() else None


@dataclass
class AgentFiles:
    """What the campaign dir says about one agent (all optional)."""

    name: str
    record: dict[str, Any] = field(default_factory=dict)  # its entry in campaign.json
    assignment: dict[str, Any] = field(default_factory=dict)  # agent.json
    usage: dict[str, Any] = field(default_factory=dict)  # usage.json

    @property
    def direction(self) -> str:
        """The research direction's name, if any."""
        for source in (self.assignment.get("direction_name"), self.record.get("direction"),
                       self.assignment.get("direction")):
            if isinstance(source, str) and source:
                return source
        return ""

    @property
    def direction_text(self) -> str:
        """The full research direction given to the agent, if known."""
        text = self.assignment.get("direction_text")
        return text if isinstance(text, str) else ""

    @property
    def cost_usd(self) -> float:
        """Dollars spent on LLM calls (0 for offline agents)."""
        return _number(self.usage.get("cost_usd")) or 0.0

    @property
    def wall_s(self) -> float | None:
        """Seconds the agent has run, from usage.json."""
        return _number(self.usage.get("wall_s"))

    @property
    def harness_state(self) -> str:
        """The harness's own state (usage.json), else the supervisor's (campaign.json)."""
        for value in (self.usage.get("state"), self.record.get("state")):
            if isinstance(value, str) and value:
                return value
        return ""

    @property
    def budget_usd(self) -> float | None:
        """The dollar budget the harness runs under."""
        budget = self.usage.get("budget")
        value = budget.get("usd") if isinstance(budget, dict) else None
        return _number(value) if value is not None else _number(self.assignment.get("budget_usd"))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class CampaignFiles:
    """A campaign dir as read now: ``campaign.json`` and each agent's files."""

    path: Path
    info: dict[str, Any]
    agents: dict[str, AgentFiles]


def read_campaign(path: Path | None) -> CampaignFiles | None:
    """The campaign dir's files, or None without a campaign."""
    if path is None:
        return None
    info = read_json(path / "campaign.json") or {}
    records = {a["name"]: a for a in info.get("agents", []) if isinstance(a, dict) and isinstance(a.get("name"), str)}
    names = {n for n in records if agent_dir(path, n) is not None}
    with suppress(OSError):  # no agents dir yet (or not a real directory)
        names |= {e.name for e in list_agent_dir(path, "agents") if e.kind == "dir"}
    agents = {n: AgentFiles(n, records.get(n, {}), read_agent_json(path, n, "agent.json") or {},
                            read_agent_json(path, n, "usage.json") or {}) for n in sorted(names)}
    return CampaignFiles(path, info, agents)


def agent_dir(campaign: Path, name: str) -> Path | None:
    """``agents/NAME`` of a campaign, refusing names that would leave it."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        return None
    return campaign / "agents" / name


@dataclass
class Notebook:
    """An agent's notebook as the page shows it: its text, or why it was not read."""

    text: str = ""
    refused: str = ""


def read_notebook(campaign: Path | None, name: str) -> Notebook:
    """The agent's ``workspace/NOTEBOOK.md`` (empty when missing), at most MAX_NOTEBOOK_BYTES; a symlink, FIFO or
    other non-regular file is not read and the reason is returned instead."""
    if campaign is None or agent_dir(campaign, name) is None:
        return Notebook()
    try:
        data = read_agent_file(campaign, f"agents/{name}/workspace/NOTEBOOK.md", MAX_NOTEBOOK_BYTES, truncate=True)
    except UnsafeAgentFile as err:
        return Notebook(refused=f"NOTEBOOK.md was not shown: {err.reason} (only a regular file in the workspace "
                                "is shown; a link or special file is refused)")
    except OSError:
        return Notebook()
    return Notebook(data.decode("utf-8", "replace"))


def read_transcript(campaign: Path | None, name: str, after: int = 0,
                    limit: int = 200) -> tuple[list[dict[str, Any]], int]:
    """Transcript events starting at byte offset ``after`` (0: the last ``limit`` events) and the next offset.

    Only complete lines are read, so a line being written now is returned by the next call. When ``after`` is 0
    and the file is large, reading starts within its last :data:`TAIL_BYTES`.
    """
    if campaign is None or agent_dir(campaign, name) is None:
        return [], after
    try:
        with open_agent_file(campaign, f"agents/{name}/transcript.jsonl") as fh:
            size = fh.size
            if after > size:  # the file was replaced: start over
                after = 0
            start = after if after else max(0, size - TAIL_BYTES)
            data = fh.read(min(size - start, TAIL_BYTES), start)
    except OSError:  # missing, or refused (a link or special file)
        return [], after
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")
    if start and not after:
        lines = lines[1:]  # the first line may be cut
    events = [e for e in (_event(line) for line in lines) if e is not None]
    if not after:
        events = events[-limit:]
    return events, start + end


def _event(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None


def read_suite_baselines(home: str | None, suite: str) -> dict[str, dict[str, Any]]:
    """Per dataset, the suite's ``baselines.json`` entry (vanilla and literature accuracies when recorded)."""
    if not home:
        return {}
    data = read_json(Path(home).expanduser() / "suites" / suite / "baselines.json") or {}
    datasets = data.get("datasets")
    return {k: v for k, v in datasets.items() if isinstance(v, dict)} if isinstance(datasets, dict) else {}
