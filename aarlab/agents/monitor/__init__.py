"""The transcript monitor: rules (data, ``rules.toml``) over an LLM agent's tool calls, tool outputs and text that
flag reading label sources, grouping candidates by question, importing data-source packages, paths outside the
workspace and talk of gaming the score. Host-side only; transcripts are read through :mod:`aarlab._agentfiles`."""

from aarlab.agents.monitor._judge import JudgeVerdict, check_judge, judge_agent, parse_score, transcript_summary
from aarlab.agents.monitor._rules import DEFAULT_RULES, Rule, RulesError, load_rules
from aarlab.agents.monitor._scan import (
    MAX_TRANSCRIPT_BYTES,
    MonitorReport,
    TranscriptFlag,
    event_parts,
    monitor_agent,
    parse_transcript,
    scan_events,
)

__all__ = ["DEFAULT_RULES", "MAX_TRANSCRIPT_BYTES", "JudgeVerdict", "MonitorReport", "Rule", "RulesError",
           "TranscriptFlag", "check_judge", "event_parts", "judge_agent", "load_rules", "monitor_agent", "parse_score",
           "parse_transcript", "scan_events", "transcript_summary"]
