"""The local engines for state beside the broker: PostgreSQL (deploy/local/postgres.sh) and, for tests and
benchmarks, an S3-compatible server (moto in server mode).

postgres.sh writes its superuser's URL to <postgres data>/admin.url (0600) when it starts the cluster; with it,
`create_database` makes a database of its own for a platform, a test or a benchmark run, as the topic prefix
does on the broker. Nothing here runs against a server that is not the local one.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
POSTGRES_SH = ROOT / "deploy" / "local" / "postgres.sh"


def postgres_data() -> Path:
    return Path(os.environ.get("CONVEYOR_POSTGRES_DATA") or ROOT / "var" / "postgres")


def postgres_admin_url(start: bool = True) -> str:
    """The local cluster's superuser URL (libpq form), starting the cluster first when `start`."""
    if start:
        subprocess.run([str(POSTGRES_SH), "start"], check=True, stdout=subprocess.DEVNULL)
    return (postgres_data() / "admin.url").read_text().strip()


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(admin_url: str, name: str | None = None) -> str:
    """A new empty database on the admin URL's server; returns its SQLAlchemy URL."""
    import psycopg

    name = name or f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_psycopg_url(admin_url), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_psycopg_url(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    """moto's S3-compatible server as a process of its own on a loopback port."""

    process: subprocess.Popen[bytes]
    endpoint: str

    @classmethod
    def start(cls, log: Path, timeout: float = 30.0) -> "S3Server":
        port = free_port()
        with log.open("ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        server = cls(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return server
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    server.stop()
                    raise RuntimeError(f"moto's S3 server did not start; see {log}") from None
                time.sleep(0.1)

    def env(self) -> dict[str, str]:
        """What boto3 reads to reach it (moto accepts any credentials)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "conveyor-test",
                "AWS_SECRET_ACCESS_KEY": "conveyor-test-secret", "AWS_DEFAULT_REGION": "us-east-1"}

    def create_bucket(self, name: str | None = None) -> str:
        import boto3

        name = name or f"conveyor-{uuid.uuid4().hex[:12]}"
        env = self.env()
        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                     region_name=env["AWS_DEFAULT_REGION"]).create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
