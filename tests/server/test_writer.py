"""Group commit: a refused change is rolled back alone; results arrive only after commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aarlab.server._audit import verify_chain
from aarlab.server._db import meta, open_database
from aarlab.server._errors import ApiError
from aarlab.server._writer import Change, Writer


def test_a_refused_change_is_rolled_back_while_its_batch_commits(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'w.db'}")
    writer = Writer(db, max_batch=8)

    def put(key: str, refuse: bool = False):  # noqa: ANN202
        def change(tx: Change) -> str:
            tx.insert(meta, {"key": key, "value": "v"})
            tx.audit("test", "meta.put", {"key": key})
            if refuse:
                raise ApiError(409, "no")
            return key
        return change

    writer.start()
    try:
        futures = [writer.submit(put("a")), writer.submit(put("b", refuse=True)), writer.submit(put("c"))]
        assert futures[0].result(timeout=30) == "a" and futures[2].result(timeout=30) == "c"
        with pytest.raises(ApiError):
            futures[1].result(timeout=30)
    finally:
        writer.stop()
    with db.reader.connect() as conn:
        assert sorted(conn.execute(select(meta.c.key)).scalars()) == ["a", "c"]
    assert verify_chain(db).ok and verify_chain(db).records == 2  # the refused change left no record
    db.dispose()


def test_submitting_to_a_stopped_writer_says_so(tmp_path: Path) -> None:
    writer = Writer(open_database(f"sqlite:///{tmp_path / 'w.db'}"))
    with pytest.raises(RuntimeError, match="not running"):
        writer.submit(lambda conn: None)


def test_an_unexpected_failure_fails_only_its_own_change(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'w.db'}")
    writer = Writer(db, max_batch=8)

    def put(key: str):  # noqa: ANN202
        def change(tx: Change) -> str:
            tx.insert(meta, {"key": key, "value": "v"})
            return key
        return change

    writer.start()
    try:
        futures = [writer.submit(put("a")), writer.submit(put("a")), writer.submit(put("b"))]  # "a" twice: clash
        results = []
        for future in futures:
            try:
                results.append(future.result(timeout=30))
            except ApiError as err:
                results.append(err.status)
    finally:
        writer.stop()
    assert results == ["a", 503, "b"]
    with db.reader.connect() as conn:
        assert sorted(conn.execute(select(meta.c.key)).scalars()) == ["a", "b"]
    db.dispose()
