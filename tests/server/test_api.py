"""The scoring API against a real server (SQLite and PostgreSQL; TCP and a Unix socket)."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from aarlab.client import ScoringError
from aarlab.server._audit import canonical_json, sha256_hex
from tests.server.conftest import RunningServer
from tests.server.helpers import auth, body, constant, exact_accuracy, post_raw, public_mask

RECEIPT_KEYS = {"id", "agent", "dataset", "method", "public_transfer_acc", "public_pgr", "remaining_budget",
                "receipt", "predictions_sha256", "created_at", "flags", "public_frozen"}


# --- authentication -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("uds", [False, True], ids=["tcp", "unix"])
def test_request_without_token_is_rejected(server: RunningServer, uds: bool) -> None:
    with server.client("", uds=uds) as client:
        client._http.headers.pop("Authorization")
        with pytest.raises(ScoringError) as err:
            client.leaderboard()
    assert err.value.status == 401
    assert "missing bearer token" in err.value.message


@pytest.mark.parametrize("uds", [False, True], ids=["tcp", "unix"])
def test_request_with_a_wrong_token_is_rejected(server: RunningServer, uds: bool) -> None:
    with server.client("aar_not-a-real-token", uds=uds) as client, pytest.raises(ScoringError) as err:
        client.submit("math", constant(server.ids("math"), 0.9))
    assert err.value.status == 401
    assert "invalid bearer token" in err.value.message


def test_a_non_bearer_authorization_header_is_rejected(server: RunningServer) -> None:
    response = httpx.get(server.url + "/api/v1/whoami", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def test_every_api_route_requires_a_token(server: RunningServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method in methods:
            response = httpx.request(method.upper(), server.url + path.replace("{submission_id}", "x"))
            assert response.status_code == 401, (method, path)


def test_whoami_names_the_agent_holding_the_token(server: RunningServer) -> None:
    token = server.add_agent(name="whoami-agent")
    with server.client(token) as client:
        assert client.whoami().name == "whoami-agent"


def test_an_agent_cannot_read_another_agents_submission(server: RunningServer) -> None:
    alice, bob = server.add_agent(), server.add_agent()
    with server.client(alice) as client:
        receipt = client.submit("math", constant(server.ids("math"), 0.8))
    with server.client(bob) as client:
        with pytest.raises(ScoringError) as err:
            client.submission(receipt.id)
        assert err.value.status == 404
        assert receipt.id not in {s.id for s in client.submissions()}
    with server.client(server.admin_token) as admin:
        assert admin.submission(receipt.id).receipt == receipt.receipt
    with server.client(alice) as client:
        assert client.submission(receipt.id).receipt == receipt.receipt


def test_an_agent_cannot_use_admin_routes(server: RunningServer) -> None:
    with server.client(server.add_agent()) as client:
        for call in (client.finalize, lambda: client.create_agent("intruder")):
            with pytest.raises(ScoringError) as err:
                call()
            assert err.value.status == 403


def test_the_admin_token_cannot_submit(server: RunningServer) -> None:
    with server.client(server.admin_token) as admin, pytest.raises(ScoringError) as err:
        admin.submit("math", constant(server.ids("math"), 0.5))
    assert err.value.status == 403


def test_the_admin_creates_agents_over_the_api_and_names_are_unique(server: RunningServer) -> None:
    with server.client(server.admin_token) as admin:
        created = admin.create_agent("api-made", budget=3)
        with pytest.raises(ScoringError) as err:
            admin.create_agent("api-made")
    assert err.value.status == 409
    with server.client(created.token) as client:
        assert {b.budget for b in client.budget()} == {3}


# --- malformed submissions -----------------------------------------------------------------------------------

def _malformed(ids: list[str], unlabel_ids: list[str]) -> dict[str, tuple[bytes, int, str]]:
    good = [{"id": i, "p": 0.5} for i in ids]
    return {
        "missing ids": (body("math", good[:-2]), 422, "miss 2 of the 200 test ids"),
        "extra ids": (body("math", [*good, {"id": "nope", "p": 0.5}]), 422, "not test ids"),
        "duplicate ids": (body("math", [*good, good[3]]), 422, "appears twice"),
        "train_unlabel ids": (body("math", [{"id": i, "p": 0.5} for i in unlabel_ids]), 422, "not test ids"),
        "a non-test split": (body("math/train_unlabel", good), 422, "only the test split is scored"),
        "unknown dataset": (body("physics", good), 422, "unknown dataset 'physics'"),
        "NaN": (body("math", [*good[:-1], {"id": ids[-1], "p": float("nan")}]), 422,
                "predictions[199].p: expected a probability, a finite number in [0, 1]; found nan"),
        "infinity": (body("math", [*good[:-1], {"id": ids[-1], "p": float("inf")}]), 422, "found inf"),
        "p above 1": (body("math", [*good[:-1], {"id": ids[-1], "p": 1.5}]), 422, "found 1.5"),
        "p below 0": (body("math", [*good[:-1], {"id": ids[-1], "p": -0.1}]), 422, "found -0.1"),
        "p as a string": (body("math", [*good[:-1], {"id": ids[-1], "p": "0.5"}]), 422, "valid number"),
        "p as a bool": (body("math", [*good[:-1], {"id": ids[-1], "p": True}]), 422, "valid number"),
        "id as a number": (body("math", [*good[:-1], {"id": 7, "p": 0.5}]), 422, "valid string"),
        "missing p": (body("math", [*good[:-1], {"id": ids[-1]}]), 422, "predictions[199].p: Field required"),
        "predictions not a list": (body("math", {"a": 1}), 422, "valid array"),
        "no predictions": (body("math", []), 422, "at least 1 item"),
        "unknown field": (body("math", good, split="test"), 422, "split: Extra inputs are not permitted"),
        "invalid JSON": (b'{"dataset": "math", "predictions": [', 422, "not valid JSON"),
        "oversized body": (body("math", good, method="m" * 80, pad="x" * 70_000), 413, "exceeds the limit"),
    }


CASES = list(_malformed([f"x{i}" for i in range(5)], []))


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_submission_is_refused_with_a_message_and_costs_no_budget(server: RunningServer,
                                                                             case: str) -> None:
    token = server.add_agent(budget=1)
    unlabel = [f"math-train_unlabel-{i:05d}" for i in range(200)]
    payload, status, message = _malformed(server.ids("math"), unlabel)[case]
    response = post_raw(server.url, token, payload)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    with server.client(token) as client:
        assert {b.dataset: b.used for b in client.budget()} == {"math": 0, "chat": 0}


# --- budgets --------------------------------------------------------------------------------------------------

def test_an_exhausted_budget_returns_429_and_is_counted_per_dataset(server: RunningServer) -> None:
    token = server.add_agent(budget=2)
    with server.client(token) as client:
        remaining = [client.submit("math", constant(server.ids("math"), p)).remaining_budget for p in (0.2, 0.8)]
        with pytest.raises(ScoringError) as err:
            client.submit("math", constant(server.ids("math"), 0.6))
        assert remaining == [1, 0]
        assert err.value.status == 429
        assert "budget exhausted" in err.value.message and "2 of 2" in err.value.message
        assert client.submit("chat", constant(server.ids("chat"), 0.6)).remaining_budget == 1
        assert len(client.submissions()) == 3


def test_an_agent_without_its_own_budget_gets_the_default(server: RunningServer) -> None:
    with server.client(server.add_agent()) as client:
        assert {b.budget for b in client.budget()} == {20}


# --- scores: rounding and nothing that leaks -----------------------------------------------------------------

@pytest.mark.parametrize("uds", [False, True], ids=["tcp", "unix"])
def test_public_scores_are_rounded_to_hundredths_and_pgr_uses_the_rounded_accuracy(server: RunningServer,
                                                                                 uds: bool) -> None:
    rng = random.Random(1)  # nearly right, so that it climbs the Ladder (step 0.4 on 100 public examples)
    predictions = {i: (0.9 if y else 0.1) if rng.random() < 0.97 else rng.random()
                   for i, y in server.labels("math").items()}
    with server.client(server.add_agent(), uds=uds) as client:
        receipt = client.submit("math", predictions)
    exact = exact_accuracy(predictions, server.labels("math"), public_mask(server.state, "math"), public=True)
    assert receipt.public_transfer_acc == round(exact, 2)
    assert receipt.public_pgr == round((receipt.public_transfer_acc - 0.55) / (0.75 - 0.55), 2)


def test_perfect_predictions_score_one_on_the_public_part(server: RunningServer) -> None:
    labels = server.labels("chat")
    with server.client(server.add_agent()) as client:
        receipt = client.submit("chat", {i: float(y) for i, y in labels.items()})
    assert (receipt.public_transfer_acc, receipt.public_pgr) == (1.0, round((1 - 0.52) / (0.73 - 0.52), 2))


def test_a_receipt_carries_no_per_example_results_counts_or_private_scores(server: RunningServer) -> None:
    token = server.add_agent()
    response = post_raw(server.url, token, body("math", [{"id": i, "p": 0.7} for i in server.ids("math")]))
    assert response.status_code == 201
    receipt = response.json()
    assert set(receipt) == RECEIPT_KEYS
    assert len(receipt["receipt"]) == 64 and len(receipt["predictions_sha256"]) == 64
    assert round(receipt["public_transfer_acc"] * 100) == pytest.approx(receipt["public_transfer_acc"] * 100)
    text = json.dumps(receipt).lower()
    assert "private" not in text and "correct" not in text and "label" not in text


def test_the_receipt_hash_covers_the_submission_and_the_previous_audit_record(server: RunningServer) -> None:
    from sqlalchemy import select

    from aarlab.server import open_state
    from aarlab.server._db import audit_log, submissions

    with server.client(server.add_agent(name="receipt-agent")) as client:
        r = client.submit("math", constant(server.ids("math"), 0.3))
    state = open_state(server.state)
    with state.db.reader.connect() as conn:
        seq = conn.execute(select(submissions.c.audit_seq).where(submissions.c.id == r.id)).scalar()
        prev = conn.execute(select(audit_log.c.prev_hash).where(audit_log.c.seq == seq)).scalar()
    state.db.dispose()
    expected = sha256_hex(canonical_json({
        "id": r.id, "agent": "receipt-agent", "dataset": "math", "predictions_sha256": r.predictions_sha256,
        "public_transfer_acc": r.public_transfer_acc, "public_pgr": r.public_pgr, "time": r.created_at,
        "prev_audit_hash": prev}))
    assert r.receipt == expected


# --- leaderboard ----------------------------------------------------------------------------------------------

def test_the_leaderboard_shows_the_best_stored_public_score_per_agent_and_method(server: RunningServer) -> None:
    labels = server.labels("math")
    with server.client(server.add_agent(name="board-agent")) as client:
        worse = client.submit("math", {i: 1 - float(y) for i, y in labels.items()}, method="contrarian")
        better = client.submit("math", {i: float(y) for i, y in labels.items()}, method="oracle")
        again = client.submit("math", constant(server.ids("math"), 0.9), method="oracle")
        board = client.leaderboard()
    mine = {r.method: r for r in board.rows if r.agent == "board-agent"}
    assert set(mine) == {"contrarian", "oracle"}
    assert mine["oracle"].submission_id == better.id and mine["oracle"].evaluations == 2
    # The Ladder: below the first bar the score shown is the weak teacher's accuracy; a worse submission repeats
    # the agent's best; a method's row shows only what that method itself earned.
    assert mine["contrarian"].public_transfer_acc == worse.public_transfer_acc == 0.55
    assert again.public_transfer_acc == mine["oracle"].public_transfer_acc == 1.0
    assert all(r.private_transfer_acc is None and r.private_pgr is None for r in board.rows)


def test_the_leaderboard_is_derived_only_from_stored_evaluations(server: RunningServer) -> None:
    with server.client(server.add_agent()) as client:
        client.submit("chat", constant(server.ids("chat"), 0.4), method="derived")
        board = client.leaderboard()
    assert httpx.post(server.url + "/api/v1/leaderboard", headers=auth(server.admin_token)).status_code == 405
    with server.client(server.admin_token) as admin:
        stored = admin.submissions()
    best: dict[tuple[str, str, str], float] = {}
    for s in stored:
        key = (s.agent, s.method, s.dataset)
        best[key] = max(best.get(key, -1.0), s.public_transfer_acc)
    assert {(r.agent, r.method, r.dataset): r.public_transfer_acc for r in board.rows} == best


def test_datasets_list_test_sizes_and_fixed_baselines(server: RunningServer) -> None:
    with server.client(server.add_agent()) as client:
        info = {d.name: d for d in client.datasets()}
    assert set(info) == {"math", "chat"}
    assert (info["math"].n_test, info["math"].weak_acc, info["math"].strong_acc) == (200, 0.55, 0.75)
    assert info["chat"].kind == "comparison"


def test_the_openapi_schema_documents_the_submission_body(server: RunningServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    assert "/api/v1/submissions" in spec["paths"]
    request = spec["components"]["schemas"]["SubmissionRequest"]
    assert set(request["properties"]) == {"dataset", "method", "predictions"}


@pytest.mark.parametrize("route", ["/api/v1/posts?method=a%00b", "/api/v1/posts?author=%00", "/api/v1/posts?tag=x%00",
                                   "/api/v1/posts?dataset=%00"])
def test_a_value_the_database_cannot_compare_is_a_422_on_reads_too(server: RunningServer, route: str) -> None:
    """PostgreSQL refuses a NUL in a text parameter; on SQLite the filter simply matches nothing. Never a 500."""
    response = httpx.get(server.url + route, headers=auth(server.admin_token))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert "NUL" in response.json()["detail"]
