"""Run the service with uvicorn on TCP and/or a Unix socket, holding the state dir's lock."""

from __future__ import annotations

import os
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from aarlab.server._settings import ServerSettings
from aarlab.server._state import ServerLock, StateError


def _tcp_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: a response's header and body writes must not wait for delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise StateError(f"cannot listen on {host}:{port} ({err.strerror}); pick another --port") from None
    return sock


def _unix_socket(path: Path) -> socket.socket:
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise StateError(f"{path} exists and is not a socket; give another --uds path")
        path.unlink()  # a stale socket: we hold the state lock, so no server of ours uses it
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o660)
    return sock


_STATE_ENV, _SETTINGS_ENV, _CAMPAIGN_ENV = "AARLAB_SERVER_STATE_DIR", "AARLAB_SERVER_SETTINGS", "AARLAB_SERVER_CAMPAIGN"


@dataclass
class Listener:
    """A uvicorn server and the sockets it will serve on (bound already, so the addresses are known)."""

    server: uvicorn.Server
    sockets: list[socket.socket]
    urls: list[str]

    def run(self) -> None:
        """Serve until ``server.should_exit`` is set (or a signal arrives, in the main thread)."""
        if self.server.config.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(self.server.config, sockets=self.sockets).run()
        else:
            self.server.run(sockets=self.sockets)


def app_from_environment() -> object:
    """The app of a worker process (``--workers N``): its parent passes the state dir and settings by environment."""
    from aarlab.server._app import create_app

    campaign = os.environ.get(_CAMPAIGN_ENV)
    return create_app(Path(os.environ[_STATE_ENV]), ServerSettings.model_validate_json(os.environ[_SETTINGS_ENV]),
                      campaign_dir=Path(campaign) if campaign else None)


def listen(state_dir: Path, settings: ServerSettings, *, host: str = "127.0.0.1", port: int | None = 8765,
           uds: Path | None = None, workers: int = 1, campaign: Path | None = None,
           tls: tuple[Path, Path] | None = None) -> Listener:
    """Bind the sockets and build the server; ``port=None`` serves only the Unix socket, ``port=0`` a free port.

    ``campaign`` is the campaign dir the dashboard reads (default: the state dir's parent if it is one).

    ``tls`` (certificate chain, private key; PEM files) serves HTTPS on the TCP port; uvicorn applies it to every
    socket, so it cannot be combined with a Unix socket.

    With ``workers > 1`` that many processes share the sockets (and the database: each has its own group-commit
    writer; the write lock keeps the chain and budgets consistent). Rate limits are then per worker process.
    """
    from aarlab.server._app import create_app

    if port is None and uds is None:
        raise StateError("nothing to listen on: give a --port, a --uds path, or both")
    if tls is not None:
        if uds is not None or port is None:
            raise StateError("TLS (--tls-cert/--tls-key) is served on the TCP --port only; drop --uds")
        for path in tls:
            if not Path(path).is_file():
                raise StateError(f"TLS file {path} does not exist (give a PEM certificate chain and its key)")
    sockets = []
    if port is not None:
        sockets.append(_tcp_socket(host, port))
    if uds is not None:
        sockets.append(_unix_socket(uds))
    for sock in sockets:
        sock.listen(2048)
        sock.setblocking(False)
    scheme = "https" if tls is not None else "http"
    urls = [f"{scheme}://{host}:{s.getsockname()[1]}" for s in sockets if s.family != socket.AF_UNIX]
    urls += [f"unix://{uds}"] if uds is not None else []
    if workers > 1:
        os.environ[_STATE_ENV], os.environ[_SETTINGS_ENV] = str(state_dir), settings.model_dump_json()
        if campaign is not None:
            os.environ[_CAMPAIGN_ENV] = str(campaign)
        app: Any = f"{__name__}:app_from_environment"
    else:
        app = create_app(state_dir, settings, campaign_dir=campaign)
    ssl: dict[str, Any] = {} if tls is None else {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])}
    config = uvicorn.Config(app, factory=workers > 1, workers=workers, lifespan="on", access_log=False,
                            log_level="warning", timeout_graceful_shutdown=5, backlog=2048, **ssl)
    if tls is not None:
        try:
            config.load()  # reads the certificate and key now: a bad pair is a clear error, not a dead server
        except (OSError, ValueError) as err:
            for sock in sockets:
                sock.close()
            raise StateError(f"cannot use the TLS certificate {tls[0]} with key {tls[1]}: {err}") from None
    return Listener(uvicorn.Server(config), sockets, urls)


def serve(state_dir: Path, settings: ServerSettings, *, host: str = "127.0.0.1", port: int | None = 8765,
          uds: Path | None = None, workers: int = 1, campaign: Path | None = None,
          tls: tuple[Path, Path] | None = None) -> None:
    """Serve until interrupted, holding the state dir's lock (one server per state dir)."""
    with ServerLock(state_dir):
        listener = listen(state_dir, settings, host=host, port=port, uds=uds, workers=workers, campaign=campaign,
                          tls=tls)
        print(f"aarlab scoring service on {' and '.join(listener.urls)} (state {state_dir})", file=sys.stderr,
              flush=True)
        listener.run()
