"""Scanning an agent's ``transcript.jsonl`` with the monitor rules: one flag per rule and event, with evidence.

The transcript is read host-side through :mod:`aarlab._agentfiles` (no link followed, never blocking, at most
:data:`MAX_TRANSCRIPT_BYTES`: the end of a longer file), and each scanned text is bounded too, so a hostile
transcript costs the dashboard a bounded amount of work. Results are cached per file state (inode, size, mtime).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aarlab._agentfiles import UnsafeAgentFile, open_agent_file
from aarlab.agents.monitor._rules import Part, Rule, load_rules

#: The most transcript bytes scanned (the end of a longer transcript).
MAX_TRANSCRIPT_BYTES = 16 * 1024 * 1024
#: The most characters of one event part matched against the rules.
MAX_SCAN_CHARS = 64_000
#: Characters of context kept on each side of a match.
SNIPPET_CONTEXT = 100
#: Flags kept per rule (every match is still counted).
MAX_FLAGS_PER_RULE = 20


@dataclass(frozen=True)
class TranscriptFlag:
    """One rule that fired on one transcript event, with the evidence."""

    rule: str
    description: str
    event: int  # index of the event among those read (0 = the first)
    tool: str  # the tool called or answered, or "assistant" for the model's own text
    part: Part
    snippet: str  # at most 2 * SNIPPET_CONTEXT characters around the match, plus the match itself (bounded)
    t: float | None = None


@dataclass
class MonitorReport:
    """What the monitor found in one agent's transcript."""

    agent: str
    flags: list[TranscriptFlag] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # matching events per rule, beyond the kept flags too
    events: int = 0
    truncated: bool = False  # only the last MAX_TRANSCRIPT_BYTES were read
    refused: str = ""  # why the transcript was not read (a link or special file)

    @property
    def total(self) -> int:
        """How many events matched any rule (counting each rule separately)."""
        return sum(self.counts.values())


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and value.get("type") == "text" and isinstance(value.get("text"), str):
        yield value["text"]  # a content block: its text, not its type tag
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield json.dumps(value, default=str)


def event_parts(event: dict[str, Any]) -> tuple[str, dict[Part, str]]:
    """(tool or speaker, the texts of the event the rules look at), each text bounded by MAX_SCAN_CHARS."""
    kind = event.get("type")
    parts: dict[Part, str] = {}
    who = str(event.get("name", ""))[:80]
    if kind == "tool_call":
        parts["input"] = "\n".join(_strings(event.get("input")))
    elif kind == "tool_result":
        parts["output"] = "\n".join(_strings(event.get("output")))
    elif kind == "message" and event.get("role") == "assistant":
        who = "assistant"
        parts["assistant"] = "\n".join(_strings(event.get("content")))
    return who, {k: v[:MAX_SCAN_CHARS] for k, v in parts.items()}


def _snippet(text: str, start: int, end: int) -> str:
    end = min(end, start + 200)
    left, right = max(0, start - SNIPPET_CONTEXT), min(len(text), end + SNIPPET_CONTEXT)
    body = " ".join(text[left:right].split())
    return ("…" if left else "") + body + ("…" if right < len(text) else "")


def scan_events(events: Iterable[dict[str, Any]], rules: list[Rule]) -> tuple[list[TranscriptFlag], dict[str, int]]:
    """Flags (at most MAX_FLAGS_PER_RULE per rule) and per-rule counts of matching events."""
    flags: list[TranscriptFlag] = []
    counts: dict[str, int] = {r.name: 0 for r in rules}
    for index, event in enumerate(events):
        who, parts = event_parts(event)
        if not parts:
            continue
        t = event.get("t") if isinstance(event.get("t"), int | float) else None
        for rule in rules:
            for part in rule.fields:
                text = parts.get(part)
                found = rule.search(text) if text else None
                if found is None or text is None:
                    continue
                counts[rule.name] += 1
                if counts[rule.name] <= MAX_FLAGS_PER_RULE:
                    flags.append(TranscriptFlag(rule.name, rule.description, index, who, part,
                                                _snippet(text, found.start(), found.end()), t))
                break
    return flags, counts


def parse_transcript(data: bytes, cut: bool) -> list[dict[str, Any]]:
    """The events of transcript bytes (bad lines skipped; with ``cut``, the first, possibly partial, line too)."""
    lines = data.split(b"\n")
    if cut:
        lines = lines[1:]  # the first line may start mid-event
    events = []
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            events.append(event)
    return events


_cache: dict[tuple[str, str], tuple[tuple[int, int, int, int], MonitorReport]] = {}
_cache_lock = threading.Lock()


def monitor_agent(campaign: Path, name: str, rules: list[Rule] | None = None) -> MonitorReport:
    """Scan ``agents/NAME/transcript.jsonl`` of a campaign dir (an empty report when it is missing; the reason
    when it is refused). With the default rules, results are cached until the file changes."""
    report = MonitorReport(name)
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        report.refused = "not an agent name"
        return report
    cacheable = rules is None
    chosen = load_rules() if rules is None else rules
    try:
        with open_agent_file(campaign, f"agents/{name}/transcript.jsonl") as fh:
            st = os.fstat(fh.fd)
            key = (str(campaign), name)
            state = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if cacheable:
                with _cache_lock:
                    hit = _cache.get(key)
                if hit is not None and hit[0] == state:
                    return hit[1]
            start = max(0, fh.size - MAX_TRANSCRIPT_BYTES)
            data = fh.read(MAX_TRANSCRIPT_BYTES, start)
    except UnsafeAgentFile as err:
        report.refused = f"transcript.jsonl was not read: {err.reason}"
        return report
    except OSError:  # missing: nothing to scan yet
        return report
    events = parse_transcript(data, cut=start > 0)
    report.flags, report.counts = scan_events(events, chosen)
    report.events, report.truncated = len(events), start > 0
    if cacheable:
        with _cache_lock:
            _cache[key] = (state, report)
    return report
