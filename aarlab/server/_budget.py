"""Per-agent request rate limits (token buckets) and per-agent, per-dataset evaluation budgets."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update

from aarlab.server._db import usage
from aarlab.server._errors import ApiError


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token bucket per key: ``rate`` requests/second sustained, ``burst`` at once. The clock is injectable."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def wait_time(self, key: str) -> float:
        """Take one token for ``key``; returns 0 when allowed, else the seconds until a token is free."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def check(self, key: str, who: str) -> None:
        """Raise a 429 with ``Retry-After`` when ``key`` is over its rate."""
        wait = self.wait_time(key)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"rate limit exceeded for agent {who!r}: at most {self.rate:g} requests/s "
                           f"(bursts of {self.burst}); retry in {seconds} s", {"Retry-After": str(seconds)})


def used_evaluations(conn: Connection, agent_id: int, dataset: str) -> int:
    """Evaluations an agent has used on a dataset."""
    value = conn.execute(select(usage.c.used).where(usage.c.agent_id == agent_id,
                                                    usage.c.dataset == dataset)).scalar()
    return int(value or 0)


_COUNT = (update(usage)
          .where(usage.c.agent_id == bindparam("b_agent"), usage.c.dataset == bindparam("b_dataset"),
                 usage.c.used < bindparam("b_budget"))
          .values(used=usage.c.used + 1).returning(usage.c.used))


def consume_evaluation(conn: Connection, agent_id: int, agent: str, dataset: str, budget: int) -> int:
    """Count one evaluation against the budget (caller holds the write lock); returns the remaining budget."""
    used = conn.execute(_COUNT, {"b_agent": agent_id, "b_dataset": dataset, "b_budget": budget}).scalar()
    if used is not None:
        return budget - used
    used = used_evaluations(conn, agent_id, dataset)
    if used >= budget:
        raise ApiError(429, f"evaluation budget exhausted: agent {agent!r} has used {used} of {budget} evaluations "
                       f"on dataset {dataset!r}; ask the campaign admin for a larger budget")
    conn.execute(insert(usage).values(agent_id=agent_id, dataset=dataset, used=1))  # the first evaluation
    return budget - 1
