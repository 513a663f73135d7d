"""Fixtures shared by every test folder: the real broker, unique topic prefixes, temp data dirs."""

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from conveyor_kernel import KafkaSettings

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = os.environ.get("CONVEYOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def _port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """A real Apache Kafka broker: the one configured, else the project's local one, started on demand."""
    if not _port_open(BOOTSTRAP):
        subprocess.run([str(ROOT / "deploy/local/kafka.sh"), "start"], check=True)
    return BOOTSTRAP


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Settings whose topics and groups are unique to this test. On the local SASL broker they are its super
    user's: tests play the platform's operator (tests/security proves what the services' own principals may)."""
    from conveyor_cli.kafka_accounts import kafka_settings as local_settings

    return local_settings(kafka_bootstrap, f"t{uuid.uuid4().hex[:12]}.").model_copy(update={"max_retries": 1})
