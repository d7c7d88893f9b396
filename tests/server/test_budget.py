"""Rate limits (token buckets, with an injected clock) and the 429 a real server answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from aarlab.server import ServerSettings
from aarlab.server._budget import RateLimiter
from aarlab.server._errors import ApiError
from tests.server.conftest import RunningServer
from tests.server.helpers import auth


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.wait_time("a") for _ in range(4)] == [0, 0, 0, 0.5]
    clock.now = 0.5
    assert limiter.wait_time("a") == 0
    assert limiter.wait_time("b") == 0  # buckets are per agent


def test_an_agent_over_its_rate_gets_429_with_retry_after() -> None:
    limiter = RateLimiter(rate=0.1, burst=1, clock=FakeClock())
    limiter.check("a", "alice")
    with pytest.raises(ApiError) as err:
        limiter.check("a", "alice")
    assert err.value.status == 429 and err.value.headers == {"Retry-After": "10"}
    assert "rate limit exceeded for agent 'alice'" in err.value.message


def test_a_real_server_throttles_an_agent_but_not_the_admin(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(ServerSettings(rate_per_s=0.01, rate_burst=2))
    token = server.add_agent()
    codes = [httpx.get(server.url + "/api/v1/whoami", headers=auth(token)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = httpx.get(server.url + "/api/v1/whoami", headers=auth(token))
    assert int(refused.headers["Retry-After"]) >= 1 and "retry in" in refused.json()["detail"]
    assert all(httpx.get(server.url + "/api/v1/whoami", headers=auth(server.admin_token)).status_code == 200
               for _ in range(5))
