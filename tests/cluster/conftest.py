"""Fixtures: a real S3-compatible server (moto, server mode) and, for the campaign test, a real Ray cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.s3 import MotoUnavailable, S3Server, start_s3


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on loopback with authentication on, a user and the bucket ``aarlab-test``."""
    try:
        server = start_s3(tmp_path_factory.mktemp("moto") / "moto.log")
    except MotoUnavailable as err:
        pytest.skip(f"S3 tests skipped: {err}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """This process's AWS environment pointed at the moto server (s3fs reads it)."""
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return s3
