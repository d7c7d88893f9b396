"""Fakes for the runtime tests: a tool box that records calls, a scripted control source, and a helper that wires an
:class:`AgentRun` to the fake LLM server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aarlab.agents.runtime import (
    AgentRun,
    Budget,
    ChatModel,
    Ledger,
    LoopSettings,
    ModelSettings,
    NoControl,
    PriceTable,
    StaticState,
)
from aarlab.agents.runtime._control import ControlSource
from aarlab.agents.runtime._prices import ModelPrice
from aarlab.agents.tools import ToolResult, ToolSpec

#: Prices used by the tests: easy to check by hand (USD per million tokens).
TEST_PRICE = ModelPrice(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
MODEL = "anthropic/claude-test"


@dataclass
class FakeToolBox:
    """Tools ``shell`` (echo), ``w2s_run`` (an experiment), ``submit``, ``notebook_write``; records every call."""

    notebook_text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    on_call: Callable[[str, dict[str, Any]], None] | None = None

    def specs(self) -> list[ToolSpec]:
        obj = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
        return [ToolSpec("shell", "Run a command", obj),
                ToolSpec("w2s_run", "Run an experiment", {"type": "object", "properties": {
                    "dataset": {"type": "string"}, "method": {"type": "string"}}, "required": ["dataset", "method"]}),
                ToolSpec("submit", "Submit predictions", {"type": "object", "properties": {
                    "dataset": {"type": "string"}}, "required": ["dataset"]}),
                ToolSpec("notebook_write", "Append to the notebook", {"type": "object", "properties": {
                    "content": {"type": "string"}, "mode": {"type": "string"}}, "required": ["content"]})]

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        self.calls.append((name, arguments))
        if self.on_call is not None:
            self.on_call(name, arguments)
        if name == "shell":
            return ToolResult(f"ran: {arguments.get('command')}")
        if name == "w2s_run":
            return ToolResult(f"predictions/{arguments['dataset']}-{arguments['method']}-s0.jsonl",
                              experiment=len(arguments.get("seeds") or [0]))
        if name == "submit":
            return ToolResult("receipt abc123: public PGR 0.31")
        if name == "notebook_write":
            self.notebook_text += arguments["content"]
            return ToolResult("notebook extended")
        return ToolResult(f"unknown tool {name}", is_error=True)

    def notebook(self) -> str:
        return self.notebook_text


@dataclass
class ScriptedControl:
    """Control states served in order (the last one repeats); records the ``since`` of each poll."""

    states: list[StaticState]
    polls: list[int] = field(default_factory=list)

    def poll(self, since: int = 0) -> StaticState:
        self.polls.append(since)
        state = self.states[min(len(self.polls) - 1, len(self.states) - 1)]
        return StaticState(state.state, state.budget_usd, [m for m in state.messages if m.id > since])


@dataclass
class Msg:
    id: int
    body: str


@dataclass
class RunFiles:
    """Where a test run writes, and readers for it."""

    dir: Path

    @property
    def transcript(self) -> Path:
        return self.dir / "transcript.jsonl"

    @property
    def usage_file(self) -> Path:
        return self.dir / "usage.json"

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        lines = self.transcript.read_text().splitlines()
        events = [json.loads(line) for line in lines]
        return [e for e in events if kind is None or e["type"] == kind]

    def usage(self) -> dict[str, Any]:
        return json.loads(self.usage_file.read_text())


@pytest.fixture
def files(tmp_path: Path) -> RunFiles:
    return RunFiles(tmp_path)


def make_run(files: RunFiles, base_url: str, toolbox: FakeToolBox, *, budget: Budget | None = None,
             control: ControlSource | None = None, settings: LoopSettings | None = None,
             prices: PriceTable | None = None, model: str = MODEL,
             sleep: Callable[[float], None] = lambda _s: None, log: list[str] | None = None) -> AgentRun:
    """An agent run against the fake LLM at ``base_url``."""
    chat = ChatModel(ModelSettings(model=model, base_url=base_url, api_key="test-key", max_retries=2,
                                   attempt_timeout_s=30))
    ledger = Ledger.open(files.usage_file, model, budget or Budget())
    return AgentRun(model=chat, model_name=model, toolbox=toolbox, control=control or NoControl(), ledger=ledger,
                    prices=prices or PriceTable({"claude-test": TEST_PRICE}), transcript_path=files.transcript,
                    system_prompt="You are a test researcher.", settings=settings,
                    log=(log.append if log is not None else lambda _m: None), sleep=sleep)


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reaches a real provider: keys and base URLs from the environment are removed."""
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield
