"""Production feedback becomes the next version of the dataset, on the in-memory bus: the FeedbackCollected
handler, its validation, its provenance and its idempotence."""

import hashlib
import io
import json
from contextlib import asynccontextmanager

import httpx
import numpy as np
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app
from conveyor_kernel import FileStore, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.memory import InMemoryBus


@asynccontextmanager
async def running(tmp_path, bus):
    app = create_app(IngestSettings(data_dir=tmp_path), transport=bus)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest",
                                     auth=AllowedCaller.of(app)) as http:
            yield app, http


async def upload(http, frame, spec_dict) -> dict:
    response = await http.post("/datasets", files={
        "file": ("cancer.csv", frame.to_csv(index=False).encode(), "text/csv"),
        "spec": (None, json.dumps(spec_dict), "application/json")})
    assert response.status_code == 201, response.text
    return response.json()


def feedback_table(frame, rows: int = 30, seed: int = 3):
    """Rows as the monitor writes them: inputs, label, sensitive attribute, no subject id; numbers as doubles."""
    rng = np.random.default_rng(seed)
    table = frame.sample(rows, random_state=seed).drop(columns=["patient_id"]).reset_index(drop=True)
    table["mean_texture"] = table["mean_texture"] * 1.3 + rng.normal(0, 1, rows)
    table["texture_band"] = table["texture_band"].astype(float)
    table.loc[2, "mean_texture"] = np.nan  # a logged request that left a field out
    return table


def store_parquet(tmp_path, table, store=None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    table.to_parquet(buffer)
    data = buffer.getvalue()
    _, uri = (store or FileStore(tmp_path / "artifacts")).put("feedback", data, ".parquet")
    return uri, hashlib.sha256(data).hexdigest()


def collected(parent: dict, table_uri: str, sha: str, **overrides) -> ev.FeedbackCollected:
    fields = dict(model_name="breast-cancer", version=1, artifact_uri="file:///models/v1.onnx",
                  dataset_id=parent["dataset_id"], uri=table_uri, sha256=sha, rows=30, window_start_ms=1_000,
                  window_end_ms=9_000, reason="drift detected on breast-cancer v1", trigger="drift")
    return ev.FeedbackCollected(**{**fields, **overrides})


def dead_letter_reasons(bus: InMemoryBus) -> list[str]:
    return [dict(r.headers)["dlq_reason"].decode() for r in bus.on(topics.DEAD_LETTER)]


async def test_feedback_becomes_the_next_version_with_its_provenance(tmp_path, frame, spec_dict):
    bus = InMemoryBus(source="monitor")
    async with running(tmp_path, bus) as (app, http):
        parent = await upload(http, frame, spec_dict)
        uri, sha = store_parquet(tmp_path, feedback_table(frame))
        await bus.publish(collected(parent, uri, sha), "breast-cancer", source="monitor")
        await app.state.runtime.deliver()
        first, second = bus.events(ev.DatasetArrived)
        assert (first.version, second.version) == (1, 2)
        assert (second.dataset_id, second.name, second.row_count) == (sha, "breast-cancer", 30)
        provenance = second.provenance
        assert (provenance.kind, provenance.parent_dataset_id) == ("production_feedback", parent["dataset_id"])
        assert (provenance.model_name, provenance.model_version) == ("breast-cancer", 1)
        assert provenance.model_artifact_uri == "file:///models/v1.onnx"
        assert (provenance.window_start_ms, provenance.window_end_ms) == (1_000, 9_000)
        assert provenance.reason == "drift detected on breast-cancer v1" and provenance.uploaded_by == "monitor"
        assert second.imputed_cells == 1
        assert {f.name: f.dtype for f in second.features} == {f.name: f.dtype for f in first.features}
        assert second.training == first.training  # the version follows its parent's spec
        versions = (await http.get("/datasets", params={"name": "breast-cancer"})).json()["datasets"]
        assert [(v["version"], v["provenance_kind"]) for v in versions] == [(2, "production_feedback"),
                                                                            (1, "upload")]
        detail = (await http.get(f"/datasets/{sha}")).json()
        assert detail["provenance"]["kind"] == "production_feedback"
        assert detail["profile"]["imputed_cells"] == 1
    assert dead_letter_reasons(bus) == []


async def test_redelivered_feedback_makes_no_second_version(tmp_path, frame, spec_dict):
    bus = InMemoryBus(source="monitor")
    async with running(tmp_path, bus) as (app, http):
        parent = await upload(http, frame, spec_dict)
        uri, sha = store_parquet(tmp_path, feedback_table(frame))
        event = collected(parent, uri, sha)
        await bus.publish(event, "breast-cancer", source="monitor")
        await bus.publish(event, "breast-cancer", source="monitor")  # the same fact, delivered twice
        await app.state.runtime.deliver()
        versions = (await http.get("/datasets", params={"name": "breast-cancer"})).json()["datasets"]
    assert [v["version"] for v in versions] == [2, 1]
    assert len(bus.events(ev.DatasetArrived)) == 2  # the upload and one feedback version
    assert dead_letter_reasons(bus) == []


async def test_feedback_that_breaks_the_spec_is_rejected_and_dead_lettered(tmp_path, frame, spec_dict):
    bus = InMemoryBus(source="monitor")
    async with running(tmp_path, bus) as (app, http):
        parent = await upload(http, frame, spec_dict)
        table = feedback_table(frame)
        table["texture_band"] = table["texture_band"].map(lambda v: f"band {v}")  # codes became text
        table = table.drop(columns=["diagnosis"])
        uri, sha = store_parquet(tmp_path, table)
        await bus.publish(collected(parent, uri, sha), "breast-cancer", source="monitor")
        await app.state.runtime.deliver()
        versions = (await http.get("/datasets", params={"name": "breast-cancer"})).json()["datasets"]
    assert [v["version"] for v in versions] == [1]
    [rejected] = bus.events(ev.DatasetRejected)
    assert {e.column for e in rejected.errors} == {"texture_band", "diagnosis"}
    assert rejected.content_sha256 == sha
    [reason] = dead_letter_reasons(bus)
    assert "feedback for breast-cancer v1 does not follow the spec of breast-cancer v1" in reason
    assert "diagnosis: declared as target but missing" in reason and "whole-number categories" in reason


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"dataset_id": "f" * 64}, "which ingest never accepted"),
    ({"uri": "file:///nowhere/feedback.parquet"}, "outside this store's root"),
    ({"uri": "@missing"}, "does not exist"),
    ({"sha256": "0" * 64}, "not the announced"),
    ({"uri": ""}, "lacks uri"),
])
async def test_feedback_that_can_never_succeed_is_dead_lettered(tmp_path, frame, spec_dict, overrides, fragment):
    bus = InMemoryBus(source="monitor")
    async with running(tmp_path, bus) as (app, _http):
        parent = await upload(_http, frame, spec_dict)
        uri, sha = store_parquet(tmp_path, feedback_table(frame))
        if overrides.get("uri") == "@missing":  # inside the store, never written (or erased)
            overrides = {"uri": uri.replace("/feedback/", "/feedback/0")}
        await bus.publish(collected(parent, uri, sha, **overrides), "breast-cancer", source="monitor")
        await app.state.runtime.deliver()
    [reason] = dead_letter_reasons(bus)
    assert fragment in reason
    assert len(bus.events(ev.DatasetArrived)) == 1
