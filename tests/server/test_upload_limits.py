"""Snapshot uploads are bounded before they are parsed: huge pax / GNU headers, gzip bombs and pax size tricks."""

from __future__ import annotations

import bz2
import functools
import io
import tarfile
from collections.abc import Iterator

import httpx
import pytest

from aarlab.server._codestore import MAX_EXTENDED_HEADER, SnapshotLimits, SnapshotRejected, read_tar_gz
from tests.server.bombs import extended_header_bomb, gzip_stream, tar_header, zero_file_bomb
from tests.server.conftest import RunningServer
from tests.server.helpers import auth

SMALL = SnapshotLimits(max_total_bytes=1 << 20, max_file_bytes=1 << 20)  # inflation cap: 1 MiB + 16 MiB


def _refused(data: bytes, limits: SnapshotLimits = SnapshotLimits()) -> SnapshotRejected:
    with pytest.raises(SnapshotRejected) as caught:
        read_tar_gz(data, limits)
    return caught.value


def test_a_pax_header_over_the_limit_is_refused_with_413_naming_it() -> None:
    err = _refused(gzip_stream(extended_header_bomb(64 << 20)))
    assert err.status == 413 and "pax header of 67108864 bytes" in str(err) and str(MAX_EXTENDED_HEADER) in str(err)


def test_a_gnu_long_name_over_the_limit_is_refused_with_413() -> None:
    err = _refused(gzip_stream(extended_header_bomb(1 << 20, b"L")))
    assert err.status == 413 and "GNU long name of 1048576 bytes" in str(err)


def test_an_uncompressed_tar_is_scanned_the_same_way() -> None:
    err = _refused(b"".join(extended_header_bomb(MAX_EXTENDED_HEADER + 1)))
    assert err.status == 413 and "pax header" in str(err)


def test_members_past_the_total_limit_are_refused_from_their_headers() -> None:
    def files() -> Iterator[bytes]:
        for i in range(20):  # 20 files of 1 MiB: each within the file limit, together past the 1 MiB total
            yield tar_header(f"f{i}.bin", 1 << 20)
            yield bytes(1 << 20)

    err = _refused(gzip_stream(files()), SMALL)
    assert err.status == 413 and "snapshot exceeds 1048576 bytes (at entry 'f1.bin')" in str(err)


def test_a_gzip_bomb_of_headers_each_within_limits_stops_at_the_inflation_cap() -> None:
    record = b"16384 comment=".ljust(16383, b"a") + b"\n"

    def headers() -> Iterator[bytes]:
        for i in range(1100):  # 1100 directories with a 16 KiB pax header each: ~18 MiB > the 17 MiB cap
            yield tar_header("././@PaxHeader", len(record), b"x") + record.ljust(16384, b"\0")
            yield tar_header(f"d{i}/", 0, b"5")
        yield bytes(1024)

    err = _refused(gzip_stream(headers()), SMALL)
    assert err.status == 413 and "inflates to more than" in str(err)


def test_a_member_over_the_file_limit_is_refused_from_its_header() -> None:
    err = _refused(gzip_stream(zero_file_bomb(200 << 20)))
    assert err.status == 413 and "'zeros.bin': 209715200 bytes" in str(err)


def test_a_pax_size_record_overriding_the_header_size_is_checked_too() -> None:
    record = b"20 size=2000000000\n"
    pax = tar_header("././@PaxHeader", len(record), b"x") + record.ljust(512, b"\0")
    err = _refused(gzip_stream(iter([pax, tar_header("big.bin", 0), bytes(1024)])))
    assert err.status == 413 and "'big.bin': 2000000000 bytes" in str(err)


def test_a_long_path_written_through_a_small_pax_header_is_accepted() -> None:
    buffer = io.BytesIO()
    name = "/".join(["d" * 40] * 5) + "/method.py"  # 215 characters: needs a pax header
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size = 2
        archive.addfile(info, io.BytesIO(b"ok"))
    [only] = read_tar_gz(buffer.getvalue(), SnapshotLimits())
    assert only.path == name and only.data == b"ok"


def test_bzip2_archives_are_refused_with_what_to_send_instead() -> None:
    err = _refused(bz2.compress(b"".join(zero_file_bomb(10))))
    assert "gzip-compressed" in str(err)


@functools.cache
def _pax_bomb_512_mib() -> bytes:
    return gzip_stream(extended_header_bomb(512 << 20))  # seconds of CPU: once per run, not once per backend


def test_the_server_refuses_a_512_mib_pax_header_in_a_small_upload(server: RunningServer) -> None:
    bomb = _pax_bomb_512_mib()
    assert len(bomb) < 600 * 1024
    r = httpx.post(server.url + "/api/v1/snapshots", content=bomb, timeout=60,
                   headers={"Content-Type": "application/gzip", **auth(server.add_agent())})
    assert r.status_code == 413 and "pax header of 536870912 bytes" in r.json()["detail"]
    after = httpx.get(server.url + "/api/v1/whoami", headers=auth(server.add_agent()), timeout=30)
    assert after.status_code == 200  # the server still answers


@pytest.mark.parametrize("path", ["/api/v1/posts", "/api/v1/submissions", "/api/v1/snapshots",
                                  "/api/v1/admin/agents", "/api/v1/posts/1/votes"])
@pytest.mark.parametrize("body", [b"[" * 50_000, b'{"a":' * 10_000, b"\xff\xfe\x00", b'{"files": "' + b"A" * 70_000])
def test_hostile_json_bodies_are_a_4xx_on_every_route(server: RunningServer, path: str, body: bytes) -> None:
    r = httpx.post(server.url + path, content=body, timeout=30,
                   headers={"Content-Type": "application/json", **auth(server.admin_token)})
    assert 400 <= r.status_code < 500 and r.json()["detail"], (r.status_code, r.text[:200])


@pytest.mark.parametrize(("length", "says"), [(2**40, "413 Request Entity Too Large"), (2**70, "400 Bad Request")])
def test_a_declared_body_length_over_the_limit_is_refused_before_it_is_read(server: RunningServer, length: int,
                                                                            says: str) -> None:
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:  # no client checks the length
        conn.sendall(f"POST /api/v1/posts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Authorization: Bearer {server.admin_token}\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
        answer = conn.recv(65536).decode()
    assert answer.startswith(f"HTTP/1.1 {says}"), answer[:200]  # 2**70 is not even valid HTTP to uvicorn
