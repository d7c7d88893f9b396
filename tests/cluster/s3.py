"""A real S3-compatible server for tests: moto in server mode on a free loopback port, with authentication on.

``INITIAL_NO_AUTH_ACTION_COUNT`` lets the first requests (creating a user, its policy and access key) through
unauthenticated; every later request must carry that user's keys, so wrong credentials are refused as by S3.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BUCKET = "aarlab-test"


class MotoUnavailable(RuntimeError):
    """moto's server (or boto3) is not installed or did not start."""


@dataclass
class S3Server:
    """A running moto server: its endpoint and the credentials of a user allowed everything."""

    endpoint: str
    key_id: str
    secret: str
    process: subprocess.Popen[bytes]

    def env(self, **overrides: str) -> dict[str, str]:
        """The AWS environment that points s3fs (and boto3) at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.key_id,
                "AWS_SECRET_ACCESS_KEY": self.secret, "AWS_DEFAULT_REGION": "us-east-1", **overrides}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_s3(log: Path) -> S3Server:
    """Start moto's server, create a user with an allow-all policy and a bucket; :class:`MotoUnavailable` if not."""
    server = Path(sys.executable).parent / "moto_server"
    if not server.exists() and shutil.which("moto_server") is None:
        raise MotoUnavailable("moto's server is not installed (pip install 'moto[server]')")
    try:
        import boto3
    except ImportError:
        raise MotoUnavailable("boto3 is not installed (it comes with moto)") from None
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    process = subprocess.Popen([str(server if server.exists() else "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise MotoUnavailable(f"moto_server did not start (see {log})") from None
            time.sleep(0.2)
    root = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup",
            "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **root)
    iam.create_user(UserName="aarlab")
    iam.put_user_policy(UserName="aarlab", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="aarlab")["AccessKey"]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"])
    s3.create_bucket(Bucket=BUCKET)
    return S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"], process)
