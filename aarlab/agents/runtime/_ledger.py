"""``usage.json`` and budgets: what an agent has spent (tokens, USD, experiments, wall time) and when it must stop."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aarlab._files import atomic_write_text


@dataclass(frozen=True)
class Budget:
    """Limits of one agent; None means unlimited. ``deadline`` is a unix time (the wall budget)."""

    usd: float | None = None
    tokens: int | None = None
    deadline: float | None = None
    experiments: int | None = None


class BudgetView(BaseModel):
    """The budget as ``usage.json`` shows it."""

    usd: float | None = None
    tokens: int | None = None
    wall_s: float | None = None
    experiments: int | None = None


class Usage(BaseModel):
    """``usage.json`` (atomically replaced after every change). ``input_tokens`` counts every prompt token, cached
    ones included; ``unpriced_calls`` counts calls whose model had no price (their cost is counted as 0)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    experiments: int = 0
    submissions: int = 0
    started_at: float = Field(default_factory=time.time)
    wall_s: float = 0.0
    state: str = "running"
    budget: BudgetView = Field(default_factory=BudgetView)
    priced: bool = Field(True, description="False when the model has no price: cost_usd undercounts")
    price_note: str = ""
    unpriced_calls: int = 0
    restarts: int = 0

    @property
    def tokens(self) -> int:
        """Input + output tokens so far (what the token budget counts)."""
        return self.input_tokens + self.output_tokens


class Ledger:
    """Keeps ``usage.json`` current and says which budget, if any, is exhausted."""

    def __init__(self, path: Path, usage: Usage, budget: Budget) -> None:
        self.path = path
        self.usage = usage
        self.budget = budget
        self.set_budget(budget)

    @classmethod
    def open(cls, path: Path, model: str, budget: Budget) -> Ledger:
        """Continue the totals of an earlier process (``usage.json`` present) or start from zero."""
        usage = None
        if path.is_file():
            try:
                usage = Usage.model_validate_json(path.read_text())
            except ValidationError as err:
                raise RuntimeError(f"{path}: cannot continue its totals ({err.errors()[0]['msg']}); move the "
                                   f"file away to start the count from zero") from None
            usage.model = model
            usage.restarts += 1
        return cls(path, usage or Usage(model=model), budget)

    def set_budget(self, budget: Budget) -> None:
        """Replace the limits (an operator's budget change) and save."""
        self.budget = budget
        wall = None if budget.deadline is None else max(0.0, budget.deadline - self.usage.started_at)
        self.usage.budget = BudgetView(usd=budget.usd, tokens=budget.tokens, wall_s=wall,
                                       experiments=budget.experiments)
        self.save()

    def save(self) -> None:
        """Write ``usage.json`` atomically."""
        self.usage.wall_s = time.time() - self.usage.started_at
        atomic_write_text(self.path, self.usage.model_dump_json(indent=2))

    def exhausted(self, now: float | None = None) -> str | None:
        """Why the agent must stop now (a sentence naming the budget), or None while every budget lasts."""
        u, b = self.usage, self.budget
        now = time.time() if now is None else now
        if b.usd is not None and u.cost_usd >= b.usd:
            return f"USD budget exhausted: spent ${u.cost_usd:.4f} of ${b.usd:.2f}"
        if b.tokens is not None and u.tokens >= b.tokens:
            return f"token budget exhausted: used {u.tokens} of {b.tokens} tokens"
        if b.experiments is not None and u.experiments >= b.experiments:
            return f"experiment budget exhausted: ran {u.experiments} of {b.experiments} experiments"
        if b.deadline is not None and now >= b.deadline:
            return "wall-time budget exhausted: the deadline has passed"
        return None

    def describe_budget(self) -> str:
        """The budget as one sentence for the system prompt."""
        b = self.budget
        parts = []
        if b.usd is not None:
            parts.append(f"${b.usd:.2f} of LLM spend")
        if b.tokens is not None:
            parts.append(f"{b.tokens:,} LLM tokens")
        if b.experiments is not None:
            parts.append(f"{b.experiments} experiments (w2s_run calls)")
        if b.deadline is not None:
            parts.append("until " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(b.deadline)))
        return ", ".join(parts) if parts else "no fixed limit, but spend as if every call cost money"
