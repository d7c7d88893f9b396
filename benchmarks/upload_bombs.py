"""Snapshot-upload bombs against a real server: status, time to refuse, peak memory and other clients' latency.

Each bomb is small on the wire and huge once inflated or parsed: a 512 MiB / 64 MiB pax header, a 64 MiB GNU long
name, a 1 GiB file of zeros (gzip bomb). A real workspace snapshot is pushed for comparison. The server runs in
this process (a thread), so the peak resident memory (VmHWM, reset before each upload) is the server's cost; a
second client polls ``GET /api/v1/whoami`` during each upload and the slowest answer is printed.

Run: ``python benchmarks/upload_bombs.py`` (about a minute on two cores).
"""

from __future__ import annotations

import io
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aarlab.server import ServerSettings  # noqa: E402
from tests.server.bombs import extended_header_bomb, gzip_stream, tar_header, zero_file_bomb  # noqa: E402
from tests.server.conftest import start_server  # noqa: E402
from tests.server.fakesuite import write_fake_suite  # noqa: E402


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def _workspace() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for i in range(200):
            data = (f"# file {i}\n" + "x = 1\n" * 4000).encode()
            info = tarfile.TarInfo(f"pkg/mod{i}.py")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _many_files(count: int, size: int) -> Iterator[bytes]:
    """``count`` files of ``size`` zero bytes: each within the file limit, together past the inflation cap."""
    for i in range(count):
        yield tar_header(f"part{i}.bin", size)
        yield bytes(size)
    yield bytes(1024)


def _poll(url: str, headers: dict[str, str], stop: threading.Event, worst: list[float]) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while True:  # at least one request, however quick the upload
            t0 = time.perf_counter()
            client.get("/api/v1/whoami")
            worst[0] = max(worst[0], time.perf_counter() - t0)
            if stop.wait(0.01):
                return


def main() -> None:
    """Push each bomb once and print one row per upload."""
    cases = [("workspace 200 files (4.8 MB)", _workspace()),
             ("pax header 512 MiB", gzip_stream(extended_header_bomb(512 << 20))),
             ("pax header 64 MiB", gzip_stream(extended_header_bomb(64 << 20))),
             ("GNU long name 64 MiB", gzip_stream(extended_header_bomb(64 << 20, b"L"))),
             ("gzip bomb: 1 GiB of zeros", gzip_stream(zero_file_bomb(1 << 30))),
             ("gzip bomb: 8 x 15 MiB files", gzip_stream(_many_files(8, 15 << 20)))]
    root = Path(tempfile.mkdtemp(prefix="bombs"))
    server = start_server(write_fake_suite(root / "home"), root / "state", None,
                          ServerSettings(rate_per_s=1000, rate_burst=1000))
    try:
        token = server.add_agent()
        headers = {"Authorization": f"Bearer {token}"}
        print(f"{'upload':<30} {'wire KiB':>9} {'status':>6} {'time s':>7} {'peak RSS +MB':>13} "
              f"{'other client max ms':>20}")
        for label, body in cases:
            stop, worst = threading.Event(), [0.0]
            poller = threading.Thread(target=_poll, args=(server.url, headers, stop, worst))
            before = _status_kb("VmRSS")
            _reset_peak()
            poller.start()
            t0 = time.perf_counter()
            r = httpx.post(server.url + "/api/v1/snapshots", content=body, timeout=120,
                           headers={**headers, "Content-Type": "application/gzip"})
            elapsed = time.perf_counter() - t0
            stop.set()
            poller.join()
            peak = (_status_kb("VmHWM") - before) / 1024
            print(f"{label:<30} {len(body) / 1024:>9.0f} {r.status_code:>6} {elapsed:>7.3f} {peak:>13.1f} "
                  f"{worst[0] * 1000:>20.1f}")
            if r.status_code >= 400:
                print(f"  {r.json()['detail'][:110]}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
