"""The real app, lifespan and all, against the real broker: an upload becomes a DatasetArrived record."""

import asyncio
import hashlib
import json

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app
from conveyor_kernel import KafkaSettings, topics
from conveyor_kernel.callers import AllowedCaller

pytestmark = pytest.mark.integration


async def read_records(kafka: KafkaSettings, topic: str, count: int, timeout: float = 30.0):
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        records = []
        async with asyncio.timeout(timeout):
            while len(records) < count:
                for messages in (await consumer.getmany(partition, timeout_ms=500)).values():
                    records += messages
        return records
    finally:
        await consumer.stop()


async def ready(http: httpx.AsyncClient, seconds: float = 60.0) -> None:
    """The feedback consumer joins its group after startup: wait for /readyz, with a bound."""
    async with asyncio.timeout(seconds):
        while (await http.get("/readyz")).status_code != 200:
            await asyncio.sleep(0.1)


async def test_upload_is_announced_on_kafka(kafka_settings, backend, tmp_path, frame, spec_dict):
    settings = IngestSettings(data_dir=tmp_path, kafka=kafka_settings, **backend.settings)
    app = create_app(settings)
    good = frame.to_csv(index=False).encode()
    bad = frame.drop(columns=["mean_area"]).to_csv(index=False).encode()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest",
                                     auth=AllowedCaller.of(app)) as http:
            await ready(http)
            files = {"spec": (None, json.dumps(spec_dict), "application/json")}
            rejected = await http.post("/datasets", files={**files, "file": ("bad.csv", bad, "text/csv")})
            accepted = await http.post("/datasets", files={**files, "file": ("good.csv", good, "text/csv")})
    assert (rejected.status_code, accepted.status_code) == (422, 201), accepted.text

    sha = hashlib.sha256(good).hexdigest()
    first, second = await read_records(kafka_settings, kafka_settings.topic(topics.DATASETS), 2
    )
    headers = dict(second.headers)
    assert headers["ce_type"] == b"conveyor.events.v1.DatasetArrived"
    assert headers["ce_subject"] == sha.encode()
    assert headers["ce_source"] == b"ingest"
    assert second.key == sha.encode()
    event = ev.DatasetArrived.FromString(second.value)
    assert (event.dataset_id, event.row_count, event.uri) == (sha, 40, accepted.json()["uri"])
    assert event.training.estimator == "random_forest"

    assert dict(first.headers)["ce_type"] == b"conveyor.events.v1.DatasetRejected"
    assert dict(first.headers)["ce_subject"] == b"breast-cancer"
    assert [e.column for e in ev.DatasetRejected.FromString(first.value).errors] == ["mean_area"]


async def test_production_feedback_over_kafka_becomes_the_next_version(kafka_settings, backend, tmp_path, frame,
                                                                      spec_dict):
    from conveyor_kernel.kafka import KafkaPublisher

    from .test_ingest_feedback import collected, feedback_table, store_parquet

    settings = IngestSettings(data_dir=tmp_path, kafka=kafka_settings, **backend.settings)
    app = create_app(settings)
    monitor = KafkaPublisher(kafka_settings, source="monitor")
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest",
                                     auth=AllowedCaller.of(app)) as http:
            await ready(http)
            files = {"spec": (None, json.dumps(spec_dict), "application/json"),
                     "file": ("good.csv", frame.to_csv(index=False).encode(), "text/csv")}
            parent = (await http.post("/datasets", files=files)).json()
            uri, sha = store_parquet(tmp_path, feedback_table(frame), settings.artifacts())
            await monitor.start()
            try:
                await monitor.publish(collected(parent, uri, sha), subject="breast-cancer")
            finally:
                await monitor.stop()
            first, second = await read_records(kafka_settings, kafka_settings.topic(topics.DATASETS), 2)
    arrived = ev.DatasetArrived.FromString(second.value)
    assert dict(second.headers)["ce_type"] == b"conveyor.events.v1.DatasetArrived"
    assert (arrived.dataset_id, arrived.version, arrived.provenance.kind) == (sha, 2, "production_feedback")
    assert arrived.provenance.parent_dataset_id == parent["dataset_id"]
    assert ev.DatasetArrived.FromString(first.value).version == 1
