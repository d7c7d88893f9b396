"""A throwaway PostgreSQL cluster for tests: initdb into a temp dir, start on a free loopback port, drop it after.

initdb refuses to run as root, so as root the cluster runs as the ``postgres`` (or ``nobody``) user via runuser.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries or the driver are missing, or the cluster would not start; says which."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin or on PATH; "
                              "install them (Debian: apt-get install postgresql) to run these tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and there is no 'postgres' or 'nobody' user to run initdb as")


@dataclass
class PostgresCluster:
    """A running cluster; ``new_database()`` gives a SQLAlchemy URL of a fresh, empty database."""

    bin_dir: Path
    data_dir: Path
    port: int
    user: str | None
    _counter: itertools.count = field(default_factory=itertools.count)

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.user, "--"] if self.user else []) + list(args)

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"aar_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the cluster and delete its files."""
        subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                                 "stop"), capture_output=True, check=False)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """initdb + pg_ctl start; raises :class:`PostgresUnavailable` (with the reason) when that is impossible."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PostgresUnavailable("the psycopg driver is not installed (pip install 'psycopg[binary]')") from None
    bin_dir, user = _bin_dir(), _run_as()
    root = Path(tempfile.mkdtemp(prefix="aarpg"))
    data = root / "data"
    data.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        for path in (root, data):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    cluster = PostgresCluster(bin_dir, data, _free_port(), user)
    steps = [
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(data / "server.log"), "-o",
         f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
         "start"],
    ]
    for step in steps:
        result = subprocess.run(cluster._cmd(*step), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = (data / "server.log").read_text()[-500:] if (data / "server.log").exists() else ""
            cluster.stop()
            raise PostgresUnavailable(f"{Path(step[0]).name} failed: {(result.stderr or result.stdout).strip()} "
                                      f"{log}".strip())
    return cluster
