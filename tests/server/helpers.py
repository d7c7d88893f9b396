"""Small helpers shared by the server tests: raw HTTP calls, predictions, and a peek at the stored split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from aarlab.server import open_state


def auth(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def post_raw(url: str, token: str | None, body: bytes | str, path: str = "/api/v1/submissions") -> httpx.Response:
    """POST a raw body (for malformed-input tests)."""
    headers = {"Content-Type": "application/json", **(auth(token) if token else {})}
    return httpx.post(url + path, content=body, headers=headers, timeout=30)


def body(dataset: str, predictions: Any, **extra: Any) -> bytes:
    """A submission body (json.dumps writes NaN/Infinity as the non-standard tokens the server must refuse)."""
    return json.dumps({"dataset": dataset, "predictions": predictions, **extra}).encode()


def constant(ids: list[str], p: float) -> dict[str, float]:
    """The same probability for every id."""
    return {i: p for i in ids}


def public_mask(state: Path, dataset: str) -> dict[str, bool]:
    """Which test ids are public (read from the server's database; only tests may do this)."""
    from aarlab.server._db import test_labels

    opened = open_state(state)
    try:
        with opened.db.reader.connect() as conn:
            rows = conn.execute(select(test_labels.c.example_id, test_labels.c.public)
                                .where(test_labels.c.dataset == dataset)).all()
    finally:
        opened.db.dispose()
    return {r.example_id: bool(r.public) for r in rows}


def exact_accuracy(predictions: dict[str, float], labels: dict[str, bool], which: dict[str, bool],
                   public: bool) -> float:
    """Accuracy on the public (or private) part, ties counting as negative."""
    ids = [i for i, pub in which.items() if pub == public]
    return float(np.mean([(predictions[i] > 0.5) == labels[i] for i in ids]))


def craft_tar(*entries: tuple[str, str, bytes | str]) -> bytes:
    """A tar.gz from ``(name, type, data)``: type ``file`` (data = content), ``dir``, ``symlink`` / ``hardlink``
    (data = link target) or ``device``; names are written verbatim, so archives can be malicious on purpose."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                content = data.encode() if isinstance(data, str) else data
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "device": tarfile.CHRTYPE}[kind]
            info.linkname = data if isinstance(data, str) else data.decode()
            archive.addfile(info)
    return buffer.getvalue()
