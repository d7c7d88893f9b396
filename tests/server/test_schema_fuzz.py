"""No 5xx from any route for any input the OpenAPI schema admits: schemathesis against a real server on loopback.

Every operation of the schema is fuzzed (integers up to the schema's bounds, any strings, bodies built from
the schemas, random bytes for uploads), each generated request sent once with the admin token and once with an
agent's. The default run keeps a few examples per operation; ``-m slow`` runs many more.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from aarlab.server import create_app
from aarlab.server._params import MAX_DB_INT
from tests.server.conftest import RunningServer

FAST_EXAMPLES = 20
SLOW_EXAMPLES = 100
#: The schema as the app declares it (no server needed to read it); requests go to the live server below.
SCHEMA = schemathesis.openapi.from_dict(create_app("/nonexistent-state-dir").openapi())
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


@schemathesis.serializer("application/gzip")
def _raw_bytes(_ctx: Any, value: Any) -> bytes:
    """Upload bodies (``format: binary``) are sent as generated: random bytes, not a valid archive."""
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture(scope="module")
def tokens(server: RunningServer) -> dict[str, str]:
    """The admin token and one agent's."""
    return {"admin": server.admin_token, "agent": server.add_agent(budget=1000)}


def _fuzz(label: str, examples: int, server: RunningServer, tokens: dict[str, str]) -> None:
    @given(case=OPERATIONS[label].as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        for who, token in tokens.items():
            response = case.call(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert response.status_code < 500, (
                f"{label} as {who} answered {response.status_code}: {response.text[:300]}\n"
                f"reproduce: {case.as_curl_command()}")

    check()


def test_the_schema_has_every_api_route() -> None:
    assert len(OPERATIONS) >= 15 and "GET /api/v1/posts/{post_id}" in OPERATIONS


_NESTED = ("properties", "items", "anyOf", "allOf", "oneOf", "additionalProperties", "schema", "content")


def _integers(node: Any, doc: dict[str, Any], where: str, seen: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every ``type: integer`` schema reachable from ``node`` (following $refs once each), with where it is."""
    if isinstance(node, list):
        return [found for i, item in enumerate(node) for found in _integers(item, doc, f"{where}[{i}]", seen)]
    if not isinstance(node, dict):
        return []
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen or name not in doc["components"]["schemas"]:
            return []
        seen.add(name)
        return _integers(doc["components"]["schemas"][name], doc, name, seen)
    found = [(where, node)] if node.get("type") == "integer" else []
    for key, value in node.items():  # under properties / content, keys are field names / media types
        if key in _NESTED or where.endswith((".properties", ".content")):
            found += _integers(value, doc, f"{where}.{key}", seen)
    return found


def _storable(schema: dict[str, Any]) -> bool:
    low, high = schema.get("minimum", -(2**64)), schema.get("maximum", 2**64)
    return low >= -MAX_DB_INT - 1 and high <= MAX_DB_INT


def test_every_integer_the_api_takes_is_declared_within_what_the_database_stores() -> None:
    doc = create_app("/nonexistent-state-dir").openapi()
    unbounded = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            inputs = [(f"{p['in']} {p['name']}", p["schema"]) for p in op.get("parameters", [])]
            inputs += [("body", op["requestBody"])] if "requestBody" in op else []
            for name, node in inputs:
                for where, schema in _integers(node, doc, name, set()):
                    if "enum" not in schema and not _storable(schema):
                        unbounded.append(f"{method.upper()} {path} {where}")
    assert not unbounded, f"integers without database bounds (use aarlab.server._params.Count): {unbounded}"


@pytest.mark.parametrize("value", [MAX_DB_INT, MAX_DB_INT + 1, 2**63, 2**64 + 1, -(2**63) - 1])
def test_integers_at_and_past_the_database_range_in_paths_and_queries_get_no_server_error(
        value: int, server: RunningServer, tokens: dict[str, str]) -> None:
    import httpx

    for path in (f"/api/v1/posts/{value}", f"/api/v1/posts?since={value}", f"/api/v1/agents/me/control?since={value}"):
        for method in ("GET", "PATCH", "POST"):
            target = path if method == "GET" else f"/api/v1/posts/{value}" + ("/votes" if method == "POST" else "")
            body = {"value": 1} if method == "POST" else {"title": "t"}
            r = httpx.request(method, server.url + target, headers={"Authorization": f"Bearer {tokens['agent']}"},
                              json=None if method == "GET" else body, timeout=30)
            assert r.status_code < 500, (method, target, r.status_code, r.text[:200])
            if value > MAX_DB_INT or value < 0:
                assert r.status_code == 422 and "less than or equal" in r.text or "greater than" in r.text, r.text


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_input_the_schema_admits_gets_a_server_error(label: str, server: RunningServer,
                                                         tokens: dict[str, str]) -> None:
    _fuzz(label, FAST_EXAMPLES, server, tokens)


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_input_the_schema_admits_gets_a_server_error_at_length(label: str, server: RunningServer,
                                                                   tokens: dict[str, str]) -> None:
    _fuzz(label, SLOW_EXAMPLES, server, tokens)
