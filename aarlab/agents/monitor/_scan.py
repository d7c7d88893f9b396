"""Scanning an agent's ``transcript.jsonl`` with the monitor rules: one flag per rule and event, with evidence.

The transcript is read host-side through :mod:`aarlab._agentfiles` (no link followed, never blocking, at most
:data:`MAX_TRANSCRIPT_BYTES`: the end of a longer file), and each scanned text is bounded too, so a hostile
transcript costs the dashboard a bounded amount of work. A transcript only grows: what was scanned is remembered
per file (device, inode) and a later call scans only the lines appended since.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aarlab._agentfiles import AgentFile, UnsafeAgentFile, open_agent_file
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


def scan_events(events: Iterable[dict[str, Any]], rules: list[Rule], *, first_index: int = 0,
                counts: dict[str, int] | None = None) -> tuple[list[TranscriptFlag], dict[str, int]]:
    """Flags (at most MAX_FLAGS_PER_RULE per rule, counting those already in ``counts``) and per-rule counts of
    matching events. ``first_index`` numbers the first event (to continue an earlier scan)."""
    flags: list[TranscriptFlag] = []
    counts = {r.name: 0 for r in rules} | (counts or {})
    for index, event in enumerate(events, start=first_index):
        who, parts = event_parts(event)
        if not parts:
            continue
        t = event.get("t") if isinstance(event.get("t"), int | float) else None
        lowered = {k: v.lower() for k, v in parts.items()}
        for rule in rules:
            for part in rule.fields:
                text = parts.get(part)
                found = rule.search(text, lowered[part]) if text else None
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


@dataclass
class _Scanned:
    """How far one transcript file (device, inode) has been scanned: it only grows, so a later call scans the
    bytes appended since (complete lines only)."""

    file: tuple[int, int]
    end: int
    report: MonitorReport
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache: dict[tuple[str, str], _Scanned] = {}
_cache_lock = threading.Lock()


def _scan_from(fh: AgentFile, name: str, rules: list[Rule], done: _Scanned | None) -> tuple[MonitorReport, int]:
    """Continue ``done`` with the lines appended since, or scan afresh (the file's last MAX_TRANSCRIPT_BYTES)."""
    fresh = done is None or fh.size < done.end or fh.size - done.end > MAX_TRANSCRIPT_BYTES
    start = max(0, fh.size - MAX_TRANSCRIPT_BYTES) if fresh or done is None else done.end
    data = fh.read(fh.size - start, start)
    complete = data[:data.rfind(b"\n") + 1]
    events = parse_transcript(complete, cut=fresh and start > 0)
    old = MonitorReport(name, truncated=start > 0) if fresh or done is None else done.report
    flags, counts = scan_events(events, rules, first_index=old.events, counts=old.counts)
    report = MonitorReport(name, old.flags + flags, counts, old.events + len(events), old.truncated)
    return report, start + len(complete)


def monitor_agent(campaign: Path, name: str, rules: list[Rule] | None = None) -> MonitorReport:
    """Scan ``agents/NAME/transcript.jsonl`` of a campaign dir (an empty report when it is missing; the reason
    when it is refused). With the default rules, what was scanned is remembered per file, so a page polling a
    live transcript scans only what was appended; concurrent callers wait for one scan instead of repeating it."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        return MonitorReport(name, refused="not an agent name")
    try:
        with open_agent_file(campaign, f"agents/{name}/transcript.jsonl") as fh:
            if rules is not None:
                return _scan_from(fh, name, rules, None)[0]
            st = os.fstat(fh.fd)
            key, file = (str(campaign), name), (st.st_dev, st.st_ino)
            with _cache_lock:
                entry = _cache.get(key)
                if entry is None or entry.file != file:
                    entry = _cache[key] = _Scanned(file, 0, MonitorReport(name))
            with entry.lock:
                if entry.end == fh.size and entry.report.events:
                    return entry.report
                entry.report, entry.end = _scan_from(fh, name, load_rules(), entry if entry.end else None)
                return entry.report
    except UnsafeAgentFile as err:
        return MonitorReport(name, refused=f"transcript.jsonl was not read: {err.reason}")
    except OSError:  # missing: nothing to scan yet
        return MonitorReport(name)
