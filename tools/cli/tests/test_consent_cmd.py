"""`conveyor consent withdraw` against the real ingest app (in-memory bus): one subject, a bulk file, and the
refusal of an unknown subject, which exits non-zero and names it."""

import json

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conveyor.events.v1 import events_pb2 as ev
from conveyor_cli.main import app
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app
from conveyor_kernel.callers import bearer, signed, token_for
from conveyor_kernel.identity import DATA_SCIENTIST, PRIVACY_OFFICER
from conveyor_kernel.memory import InMemoryBus

SPEC = {"name": "people", "target": "y", "task": "classification", "subject_id_column": "person",
        "features": [{"name": "x", "kind": "numeric"}], "consent_basis": "consent", "owner": "ds@conveyor.example"}


@pytest.fixture
def ingest(tmp_path, monkeypatch):
    bus = InMemoryBus(source="ingest")
    with signed(TestClient(create_app(IngestSettings(data_dir=tmp_path), transport=bus))) as client:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"x": rng.normal(size=40), "person": [f"s{i:03d}" for i in range(40)],
                              "y": [i % 2 for i in range(40)]})
        uploaded = client.post("/datasets", files={"file": ("p.csv", frame.to_csv(index=False).encode(), "text/csv")},
                               data={"spec": json.dumps(SPEC)},
                               headers=bearer(token_for(client.app, "alice", DATA_SCIENTIST)))
        assert uploaded.status_code == 201, uploaded.text
        monkeypatch.setenv("CONVEYOR_TOKEN", token_for(client.app, "pat", PRIVACY_OFFICER))

        def post(url: str, **kwargs) -> httpx.Response:  # the CLI's one request, served by the app itself
            return client.post(httpx.URL(url).path, json=kwargs["json"], headers=kwargs["headers"])

        monkeypatch.setattr(httpx, "post", post)
        yield bus


def withdrawn(bus: InMemoryBus) -> list[ev.ConsentChanged]:
    return [e for e in bus.events(ev.ConsentChanged) if e.state == ev.CONSENT_STATE_WITHDRAWN]


def test_withdraw_one_subject_then_a_file_of_them(ingest, tmp_path) -> None:
    runner = CliRunner()
    one = runner.invoke(app, ["consent", "withdraw", "s003", "--purpose", "training"])
    assert one.exit_code == 0, one.output
    assert "1 record(s)" in one.output and "s003" not in one.output  # answered by reference
    ids = tmp_path / "ids.txt"
    ids.write_text("# from the helpdesk\ns010\n\ns011\n")
    bulk = runner.invoke(app, ["consent", "withdraw", "--file", str(ids)])
    assert bulk.exit_code == 0, bulk.output
    assert [(e.purpose, e.source) for e in withdrawn(ingest)] == [("training", "cli")] * 3


def test_an_unknown_subject_refuses_the_whole_request_and_exits_1(ingest) -> None:
    result = CliRunner().invoke(app, ["consent", "withdraw", "s004", "--file", "/nonexistent"])
    assert result.exit_code != 0 and "--file" in result.output
    unknown = CliRunner().invoke(app, ["consent", "withdraw", "nobody-9"])
    assert unknown.exit_code == 1 and "nobody-9" in unknown.output and "404" in unknown.output
    assert withdrawn(ingest) == []
