"""Routes ``/api/v1/snapshots``: push a workspace snapshot (tar.gz or JSON file list), read it, download it.

Uploads are validated entry by entry before anything is stored; blobs are written before the push is recorded
(content-addressed and idempotent, so a failed push leaves only unreferenced blobs). Only recorded snapshots are
served. Any agent may pull any snapshot: sharing code is the point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from aarlab.server._audit import utc_now
from aarlab.server._auth import Principal
from aarlab.server._codestore import (
    SNAPSHOT_ID,
    SnapshotFile,
    SnapshotLimits,
    SnapshotRejected,
    read_file_list,
    read_tar_gz,
)
from aarlab.server._db import agents, snapshot_pushes, snapshots
from aarlab.server._errors import ApiError
from aarlab.server._routes_submissions import validation_message
from aarlab.server._schemas_forum import ManifestEntry, SnapshotInfo, SnapshotPush, SnapshotPushed, SnapshotUpload
from aarlab.server._services import Services, get_principal, get_services
from aarlab.server._settings import ServerSettings
from aarlab.server._writer import Change

router = APIRouter(prefix="/api/v1", tags=["code store"])
Caller = Annotated[Principal, Depends(get_principal)]
Svc = Annotated[Services, Depends(get_services)]

ARCHIVE_TYPES = ("application/gzip", "application/x-gzip", "application/x-tar", "application/x-gtar")
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/gzip": {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {"$ref": "#/components/schemas/SnapshotUpload"}}}}}


def snapshot_limits(settings: ServerSettings) -> SnapshotLimits:
    """The code store's limits from the server settings."""
    return SnapshotLimits(max_total_bytes=settings.snapshot_max_total_bytes, max_files=settings.snapshot_max_files,
                          max_file_bytes=settings.snapshot_max_file_bytes)


def _parse(content_type: str, body: bytes, parent: str | None,
           limits: SnapshotLimits) -> tuple[list[SnapshotFile], str | None]:
    try:
        if content_type in ARCHIVE_TYPES:
            return read_tar_gz(body, limits), parent
        try:
            upload = SnapshotUpload.model_validate_json(body)
        except ValidationError as err:
            raise ApiError(422, f"invalid snapshot upload: {validation_message(err)}") from None
        if parent is not None and upload.parent is not None and parent != upload.parent:
            raise ApiError(422, f"parent given twice and differently: ?parent={parent} and body {upload.parent}")
        return read_file_list([f.model_dump() for f in upload.files], limits), upload.parent or parent
    except SnapshotRejected as err:
        raise ApiError(err.status, f"snapshot rejected: {err}") from None


def _record(caller: Principal, sid: str, parent: str | None, size: int,
            n_files: int) -> Callable[[Change], SnapshotPushed]:
    def apply(change: Change) -> SnapshotPushed:
        change.flush()  # it reads snapshots (a batch may hold two pushes of the same content)
        known = change.conn.execute(select(snapshots.c.id).where(snapshots.c.id == sid)).first() is not None
        created = utc_now()
        record = change.audit(caller.name, "snapshot.push", {"snapshot_id": sid, "agent": caller.name,
                                                              "parent": parent, "size": size, "files": n_files,
                                                              "created_at": created}, time=created)
        if not known:
            change.insert(snapshots, {"id": sid, "size": size, "files": n_files, "created_at": created})
        change.insert(snapshot_pushes, {"audit_seq": record.seq, "snapshot_id": sid, "agent_id": caller.id,
                                        "parent": parent, "created_at": created})
        return SnapshotPushed(id=sid, parent=parent, author=caller.name, size=size, files=n_files,
                              created_at=created)

    return apply


def _known(svc: Services, sid: str) -> bool:
    with svc.db.reader.connect() as conn:
        return conn.execute(select(snapshots.c.id).where(snapshots.c.id == sid)).first() is not None


@router.post("/snapshots", status_code=201, response_model=SnapshotPushed, openapi_extra=_UPLOAD_BODY,
             responses={413: {"description": "over a size or count limit"}, 415: {"description": "bad type"},
                        422: {"description": "an entry breaks a path rule, or unknown parent"}})
async def push_snapshot(
    request: Request, caller: Caller, svc: Svc,
    parent: Annotated[str | None, Query(description="id of the snapshot this one builds on")] = None,
) -> SnapshotPushed:
    """Store a workspace snapshot (``application/gzip`` tar.gz, or JSON ``{"files": [...]}``); returns its id."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (*ARCHIVE_TYPES, "application/json"):
        raise ApiError(415, f"expected Content-Type application/gzip (a tar.gz of the workspace) or "
                       f"application/json ({{\"files\": [{{\"path\", \"content_b64\"}}]}}), found {content_type!r}")
    body = await request.body()
    files, parent = await run_in_threadpool(_parse, content_type, body, parent, snapshot_limits(svc.settings))
    if parent is not None and (not SNAPSHOT_ID.match(parent) or not await run_in_threadpool(_known, svc, parent)):
        raise ApiError(422, f"parent: no snapshot {parent!r}; push the parent first or leave parent out")
    sid, _ = await run_in_threadpool(svc.store.put, files)
    size = sum(len(f.data) for f in files)
    return await svc.writer.apply(_record(caller, sid, parent, size, len(files)))


def _stored(svc: Services, sid: str) -> tuple[dict[str, Any], list[SnapshotPush]]:
    with svc.db.reader.connect() as conn:
        row = conn.execute(select(snapshots).where(snapshots.c.id == sid)).mappings().first() \
            if SNAPSHOT_ID.match(sid) else None
        if row is None:
            raise ApiError(404, f"no snapshot {sid!r}; ids are the 64 hex digits printed by `aarlab snapshot push`")
        pushes = conn.execute(select(agents.c.name, snapshot_pushes.c.parent, snapshot_pushes.c.created_at)
                              .join(agents, agents.c.id == snapshot_pushes.c.agent_id)
                              .where(snapshot_pushes.c.snapshot_id == sid).order_by(snapshot_pushes.c.audit_seq))
        return dict(row), [SnapshotPush(author=p.name, parent=p.parent, created_at=p.created_at) for p in pushes]


def _manifest(svc: Services, sid: str) -> list[dict[str, Any]]:
    manifest = svc.store.manifest(sid)
    if manifest is None:
        raise ApiError(500, f"snapshot {sid} is recorded but its manifest is missing from the code store; "
                       "check the store_url setting")
    return manifest


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotInfo,
            responses={404: {"description": "no such snapshot"}})
async def read_snapshot(snapshot_id: str, caller: Caller, svc: Svc) -> SnapshotInfo:
    """A snapshot's size, manifest and pushes."""
    row, pushes = await run_in_threadpool(_stored, svc, snapshot_id)
    manifest = await run_in_threadpool(_manifest, svc, snapshot_id)
    return SnapshotInfo(id=snapshot_id, size=row["size"], files=row["files"], created_at=row["created_at"],
                        manifest=[ManifestEntry.model_validate(e) for e in manifest], pushes=pushes)


@router.get("/snapshots/{snapshot_id}/archive", response_class=Response,
            responses={200: {"content": {"application/gzip": {}}}, 404: {"description": "no such snapshot"}})
async def download_snapshot(snapshot_id: str, caller: Caller, svc: Svc) -> Response:
    """The snapshot's files as a tar.gz (regular files only; extract with ``aarlab snapshot pull``)."""
    await run_in_threadpool(_stored, svc, snapshot_id)

    def build() -> bytes:
        return svc.store.tar_gz(_manifest(svc, snapshot_id))

    data = await run_in_threadpool(build)
    return Response(data, media_type="application/gzip",
                    headers={"Content-Disposition": f'attachment; filename="{snapshot_id}.tar.gz"'})
