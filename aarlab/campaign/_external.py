"""Campaigns on an existing scoring service (``--server URL --admin-token T``).

Agents and their sandboxes always reach the service through ``DIR/scoring.sock``: for a ``unix://`` server it is a
symlink to that socket; for an ``http(s)://`` server the supervisor serves the socket and forwards each connection
to the server's TCP address (:class:`SocketForwarder`), so sandboxes keep having no network at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aarlab.campaign._state import CampaignError

if TYPE_CHECKING:
    from aarlab.client import ScoringClient


def admin_client(server: str, admin_token: str) -> ScoringClient:
    """A scoring client with the admin token, checked against the server (:class:`CampaignError` if refused)."""
    from aarlab.client import ScoringClient, ScoringError

    try:
        client = ScoringClient(server, admin_token)
        identity = client.whoami()
    except ScoringError as err:
        raise CampaignError(f"cannot use the scoring service at {server}: {err.message}") from None
    if not identity.is_admin:
        client.close()
        raise CampaignError(f"the token given with --admin-token belongs to agent {identity.name!r}, not the admin; "
                            "get the admin token with `aarlab server admin-token --state SERVER_STATE`")
    return client


def create_agents(server: str, admin_token: str, names: list[str], budget: int, datasets: list[str]) -> dict[str, str]:
    """Create the campaign's agents on the server through its admin API; their tokens by name."""
    from aarlab.client import ScoringError

    with admin_client(server, admin_token) as client:
        try:
            served = {d.name for d in client.datasets()}
        except ScoringError as err:
            raise CampaignError(f"cannot list the datasets of {server}: {err.message}") from None
        missing = sorted(set(datasets) - served)
        if missing:
            raise CampaignError(f"the scoring service at {server} does not score {', '.join(missing)} (it serves "
                                f"{', '.join(sorted(served)) or 'nothing'}); run the campaign with the suite it "
                                "was started with (--suite)")
        tokens = {}
        for name in names:
            try:
                tokens[name] = client.create_agent(name, budget).token
            except ScoringError as err:
                hint = "; the server already has agents of that name (use a fresh server state)" \
                    if err.status == 409 else ""
                raise CampaignError(f"cannot create agent {name!r} on {server}: {err.message}{hint}") from None
    return tokens


class SocketForwarder:
    """Serves a Unix socket and forwards every connection to an ``http(s)://host:port`` server (TLS for https,
    with the server's certificate checked against the system's trust store or ``cadata``)."""

    def __init__(self, socket_path: Path, url: str, cadata: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CampaignError(f"expected a server URL like http://host:8765, found {url!r}")
        self.socket_path = socket_path
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        # https: the system's trust store, plus ``cadata`` (PEM) -- a campaign's own, possibly self-signed, certificate
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        if self.tls is not None and cadata:
            self.tls.load_verify_locations(cadata=cadata)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="scoring-socket-forwarder", daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def start(self) -> None:
        """Listen on the socket (replacing a stale one) in a background thread."""
        self.socket_path.unlink(missing_ok=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_unix_server(self._handle, path=str(self.socket_path)), self._loop)
        self._server = future.result(10)
        self.socket_path.chmod(0o600)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def stop(self) -> None:
        """Stop listening and remove the socket."""
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self.socket_path.unlink(missing_ok=True)


def link_socket(socket_path: Path, server: str) -> None:
    """``DIR/scoring.sock`` -> the Unix socket of a ``unix://`` server."""
    target = Path(server.removeprefix("unix://"))
    if not target.is_socket():
        raise CampaignError(f"{target} is not a Unix socket; is the scoring service running?")
    socket_path.unlink(missing_ok=True)
    socket_path.symlink_to(target)
