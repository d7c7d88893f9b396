"""Routes ``/api/v1/datasets``, ``/api/v1/budget`` and ``/api/v1/submissions``: the agent-facing scoring API."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlalchemy import Connection, insert, select
from starlette.concurrency import run_in_threadpool

from aarlab.server._audit import canonical_json, sha256_hex, submission_payload, utc_now
from aarlab.server._auth import Principal
from aarlab.server._budget import consume_evaluation, used_evaluations
from aarlab.server._db import agents, ladder_budget, public_ladder, submissions, usage
from aarlab.server._errors import ApiError
from aarlab.server._integrity import Baselines, read_flags, store_flags
from aarlab.server._ladder import (
    LadderQuery,
    LadderRules,
    ladder_answer,
    read_ladder_budget,
    write_ladder_budget,
)
from aarlab.server._schemas import BudgetEntry, DatasetInfo, SubmissionFlag, SubmissionReceipt, SubmissionRequest
from aarlab.server._scoring import AnswerKey, arrange_predictions, read_ladder
from aarlab.server._services import Services, get_principal, get_services
from aarlab.server._writer import Change

router = APIRouter(prefix="/api/v1", tags=["scoring"])
Caller = Annotated[Principal, Depends(get_principal)]
Svc = Annotated[Services, Depends(get_services)]

_SUBMISSION_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/SubmissionRequest"}}}}}


@router.get("/datasets", response_model=list[DatasetInfo])
def list_datasets(caller: Caller, svc: Svc) -> list[DatasetInfo]:
    """The datasets whose test split this server scores, with their fixed baselines."""
    return [DatasetInfo(name=k.name, kind=k.kind, n_test=k.n_test, weak_acc=k.weak_acc,  # type: ignore[arg-type]
                        strong_acc=k.strong_acc, baseline_version=k.baseline_version)
            for k in svc.keys.values()]


def _budget_value(svc: Services, budget: int | None) -> int:
    return svc.settings.default_budget if budget is None else budget


@router.get("/budget", response_model=list[BudgetEntry])
def read_budget(caller: Caller, svc: Svc) -> list[BudgetEntry]:
    """The caller's evaluation budget, used and remaining, per dataset."""
    budget = _budget_value(svc, caller.budget)
    with svc.db.reader.connect() as conn:
        used = {name: used_evaluations(conn, caller.id, name) for name in svc.keys}
    return [BudgetEntry(dataset=n, budget=budget, used=u, remaining=max(0, budget - u)) for n, u in used.items()]


async def _read_body(request: Request) -> bytes:
    """The whole body (its size is limited by the app's BodyLimit middleware)."""
    return await request.body()


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def validation_message(err: ValidationError, limit: int = 3) -> str:
    """One line naming each problem's location, what was expected and what was found."""
    problems = []
    for e in err.errors()[:limit]:
        if e["type"] == "json_invalid":
            problems.append(f"the body is not valid JSON ({e['ctx'].get('error', e['msg'])})")
            continue
        found = e.get("input")
        shown = "" if e["type"] == "missing" else f" (found {json_repr(found)})"
        problems.append(f"{_where(tuple(e['loc']))}: {e['msg']}{shown}")
    more = len(err.errors()) - limit
    return "; ".join(problems) + (f"; and {more} more problem(s)" if more > 0 else "")


def json_repr(value: Any) -> str:
    """A short JSON-ish rendering of an offending value for error messages."""
    text = repr(value) if isinstance(value, float) else canonical_json_safe(value)
    return text if len(text) <= 60 else text[:57] + "..."


def canonical_json_safe(value: Any) -> str:
    """JSON of a value, or its repr when it is not JSON-encodable."""
    try:
        return canonical_json(value).decode()
    except (TypeError, ValueError):
        return repr(value)


_SPLIT_SUFFIX = re.compile(r"^(?P<name>[^/:]+)[/:](?P<split>\w+)$")


def _answer_key(svc: Services, dataset: str) -> AnswerKey:
    key = svc.keys.get(dataset)
    if key is not None:
        return key
    m = _SPLIT_SUFFIX.match(dataset)
    if m and m["name"] in svc.keys:
        raise ApiError(422, f"only the test split is scored; found dataset {dataset!r}: submit with dataset "
                       f"{m['name']!r} and predictions for its test ids")
    raise ApiError(422, f"unknown dataset {dataset!r}; this server scores the test splits of: "
                   f"{', '.join(sorted(svc.keys))}")


def _record(svc: Services, caller: Principal, request: SubmissionRequest, key: AnswerKey,
            probs: np.ndarray) -> Callable[[Change], SubmissionReceipt]:
    rules = LadderRules.of(svc.settings)
    query = LadderQuery.of(key, probs, rules)  # outside the writer's transaction: the costly part
    blob = probs.astype("<f8").tobytes()
    predictions_sha = sha256_hex(blob)
    budget = _budget_value(svc, caller.budget)
    sub_id = "sub_" + secrets.token_hex(8)

    def apply(change: Change) -> SubmissionReceipt:
        if change.finalized_at is not None:
            raise ApiError(409, f"the campaign was finalized at {change.finalized_at}; no more submissions are "
                           "scored")
        remaining = consume_evaluation(change.conn, caller.id, caller.name, key.name, budget)
        spent = read_ladder_budget(change.conn, caller.id, key.name)
        answer = ladder_answer(key, probs, query, rules, read_ladder(change.conn, caller.id, key.name), spent,
                               sub_id)
        if answer.budget is not None:
            write_ladder_budget(change.conn, caller.id, key.name, spent, answer.budget)
        score, climbed, frozen = answer, answer.climbed, answer.frozen
        created = utc_now()
        receipt = sha256_hex(canonical_json({
            "id": sub_id, "agent": caller.name, "dataset": key.name, "predictions_sha256": predictions_sha,
            "public_transfer_acc": score.transfer_acc, "public_pgr": score.pgr, "time": created,
            "prev_audit_hash": change.head.hash}))
        row: dict[str, Any] = {
            "id": sub_id, "dataset": key.name, "method": request.method, "predictions_sha256": predictions_sha,
            "public_transfer_acc": score.transfer_acc, "public_pgr": score.pgr, "created_at": created,
            "receipt": receipt}
        record = change.audit(caller.name, "submission.create", submission_payload(row, caller.name), time=created)
        change.insert(submissions, {**row, "agent_id": caller.id, "predictions": blob, "audit_seq": record.seq})
        flags = store_flags(change, submission_id=sub_id, dataset=key.name, agent_id=caller.id, probs=probs,
                            public_pgr=row["public_pgr"], base=Baselines.of_key(key))
        if climbed is not None:  # rare; written now so that later changes of this batch read it
            change.flush()
            change.conn.execute(insert(public_ladder).values(
                submission_id=sub_id, agent_id=caller.id, dataset=key.name, public_acc=climbed.best_acc,
                level=climbed.level))
        return SubmissionReceipt(agent=caller.name, remaining_budget=remaining, public_frozen=frozen,
                                 flags=[SubmissionFlag(**vars(f)) for f in flags], **row)

    return apply


@router.post("/submissions", status_code=201, response_model=SubmissionReceipt, openapi_extra=_SUBMISSION_BODY,
             responses={413: {"description": "body too large"}, 422: {"description": "invalid predictions"},
                        429: {"description": "rate limit or evaluation budget exhausted"}})
async def create_submission(request: Request, caller: Caller, svc: Svc) -> Response:
    """Score predictions for every test id of a dataset; returns the public score (the Ladder's) and a receipt."""
    if caller.is_admin:
        raise ApiError(403, "the admin token cannot submit; create an agent with `aarlab server add-agent`")
    body = await _read_body(request)
    try:
        parsed = SubmissionRequest.model_validate_json(body)
    except ValidationError as err:
        raise ApiError(422, f"invalid submission: {validation_message(err)}") from None
    key = _answer_key(svc, parsed.dataset)
    probs = arrange_predictions(key, [p["id"] for p in parsed.predictions], [p["p"] for p in parsed.predictions])
    receipt = await svc.writer.apply(_record(svc, caller, parsed, key, probs))
    # Serialized here rather than by FastAPI: the hot path skips a second validation of the receipt.
    return Response(receipt.model_dump_json(), status_code=201, media_type="application/json")


def _receipt(row: Any, remaining: int) -> SubmissionReceipt:
    return SubmissionReceipt(id=row.id, agent=row.name, dataset=row.dataset, method=row.method,
                             public_transfer_acc=row.public_transfer_acc, public_pgr=row.public_pgr,
                             remaining_budget=remaining, receipt=row.receipt,
                             predictions_sha256=row.predictions_sha256, created_at=row.created_at)


_COLUMNS = (submissions.c.id, submissions.c.agent_id, submissions.c.dataset, submissions.c.method,
            submissions.c.public_transfer_acc, submissions.c.public_pgr, submissions.c.receipt,
            submissions.c.predictions_sha256, submissions.c.created_at, agents.c.name, agents.c.budget)


def _remaining(svc: Services, conn: Connection, rows: Sequence[Any]) -> list[SubmissionReceipt]:
    used = {(r.agent_id, r.dataset): r.used for r in conn.execute(select(usage))}
    flags = read_flags(conn, [r.id for r in rows])
    frozen_since = {(r.agent_id, r.dataset): r.created_at for r in conn.execute(
        select(ladder_budget.c.agent_id, ladder_budget.c.dataset, submissions.c.created_at)
        .join(submissions, submissions.c.id == ladder_budget.c.frozen_by))}
    return [_receipt(r, max(0, _budget_value(svc, r.budget) - used.get((r.agent_id, r.dataset), 0)))
            .model_copy(update={"flags": [SubmissionFlag(**vars(f)) for f in flags[r.id]],
                                "public_frozen": r.created_at >= frozen_since.get((r.agent_id, r.dataset), "~")})
            for r in rows]


@router.get("/submissions", response_model=list[SubmissionReceipt])
async def list_submissions(caller: Caller, svc: Svc) -> list[SubmissionReceipt]:
    """The caller's own stored evaluations, oldest first (the admin sees everyone's)."""
    def query() -> list[SubmissionReceipt]:
        stmt = select(*_COLUMNS).join(agents, agents.c.id == submissions.c.agent_id).order_by(submissions.c.audit_seq)
        if not caller.is_admin:
            stmt = stmt.where(submissions.c.agent_id == caller.id)
        with svc.db.reader.connect() as conn:
            return _remaining(svc, conn, conn.execute(stmt).all())

    return await run_in_threadpool(query)


@router.get("/submissions/{submission_id}", response_model=SubmissionReceipt,
            responses={404: {"description": "no such submission visible to the caller"}})
async def read_submission(submission_id: str, caller: Caller, svc: Svc) -> SubmissionReceipt:
    """One stored evaluation and its receipt: only its owner and the admin may read it."""
    def query() -> SubmissionReceipt:
        with svc.db.reader.connect() as conn:
            row = conn.execute(select(*_COLUMNS).join(agents, agents.c.id == submissions.c.agent_id)
                               .where(submissions.c.id == submission_id)).first()
            if row is None or (row.agent_id != caller.id and not caller.is_admin):
                raise ApiError(404, f"no submission {submission_id!r} among yours; list yours with "
                               "GET /api/v1/submissions")
            return _remaining(svc, conn, [row])[0]

    return await run_in_threadpool(query)
