"""Issue 15, findings 3 and 4, as a caller sees them: with Kafka down an upload and a promote answer 503 with
Retry-After within 5 s, readiness is false, and neither is applied when the broker comes back. The services run
in this process on a broker of the test's own (the shared one is never stopped)."""

import asyncio
import json
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app as create_ingest
from conveyor_kernel import Envelope, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_registry.settings import RegistrySettings
from conveyor_registry.wiring import create_app as create_registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SPEC = {"name": "faults", "target": "y", "task": "classification", "owner": "ops@conveyor.example",
        "consent_basis": "public_task", "features": [{"name": "x", "kind": "numeric"}],
        "training": {"estimator": "logistic_regression"}}


def _csv(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=60), "y": [0, 1] * 30}).to_csv(index=False).encode()


def _trained(run: str, roc_auc: float) -> ev.ModelTrained:
    return ev.ModelTrained(model_name="faults", run_id=run, dataset_id="d" * 64, metrics={"roc_auc": roc_auc},
                           artifact_uri=f"file:///m/{run}.onnx", task=ev.TASK_CLASSIFICATION,
                           training=ev.TrainingSpec(primary_metric="roc_auc"), feature_names=["x"])


async def _types_on(kafka, topic: str) -> list[str]:
    partition = TopicPartition(kafka.topic(topic), 0)
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        found = []
        while await consumer.position(partition) < end:
            for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                found += [Envelope.from_headers(list(m.headers)).type.rsplit(".", 1)[-1] for m in messages]
        return found
    finally:
        await consumer.stop()


async def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        await asyncio.sleep(0.1)


async def test_with_kafka_down_upload_and_promote_are_503_in_time_and_never_applied(private_broker, private_kafka,
                                                                                  tmp_path):
    ingest = create_ingest(IngestSettings(data_dir=tmp_path / "i", kafka=private_kafka))
    registry = create_registry(RegistrySettings(data_dir=tmp_path / "r", kafka=private_kafka))
    async with ingest.router.lifespan_context(ingest), registry.router.lifespan_context(registry), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest), base_url="http://ingest",
                              auth=AllowedCaller.of(ingest)) as upload, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=registry), base_url="http://registry",
                              auth=AllowedCaller.of(registry)) as models:
        await registry.state.registry.register(_trained("r1", 0.9))  # v1 champion
        await registry.state.registry.register(_trained("r2", 0.8))  # v2 declined: worse
        assert (await upload.post("/datasets", files={"file": ("a.csv", _csv(1))},
                                  data={"spec": json.dumps(SPEC)})).status_code == 201

        private_broker.kill()
        for client in (upload, models):  # readiness turns false while the broker is away (finding 4)
            async def not_ready(client=client) -> bool:
                response = await client.get("/readyz")
                return response.status_code == 503 and "kafka broker unreachable" in response.json()["waiting_for"]
            await _until(not_ready, 5, "readiness false")

        started = time.monotonic()
        refused_upload = await upload.post("/datasets", files={"file": ("b.csv", _csv(2))},
                                           data={"spec": json.dumps(SPEC)})
        refused_promote = await models.post("/models/faults/versions/2/promote", json={"reason": "try it"})
        assert time.monotonic() - started < 10  # each within 5 s
        for refused in (refused_upload, refused_promote):
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "5"
        assert (await models.get("/models/faults")).json()["champion_version"] == 1
        assert (await upload.get("/datasets")).json()["datasets"][0]["rows"] == 60
        assert len((await upload.get("/datasets")).json()["datasets"]) == 1

        private_broker.start()

        async def ready() -> bool:
            return [(await c.get("/readyz")).status_code for c in (upload, models)] == [200, 200]

        await _until(ready, 30, "readiness true again")
        assert (await models.get("/models/faults")).json()["champion_version"] == 1
        # back: the request is filed and judged (v2 is worse than the champion: the gates decline it)
        judged = await models.post("/models/faults/versions/2/promote", json={"reason": "now"})
        assert judged.status_code == 201 and judged.json()["state"] == "rejected", judged.text
    # what the refused calls would have announced never landed, not even after the broker came back
    assert await _types_on(private_kafka, topics.DATASETS) == ["DatasetArrived"]
    assert await _types_on(private_kafka, topics.REGISTRY) == [
        "ModelRegistered", "ModelPromoted", "ModelRegistered", "PromotionDeclined", "PromotionDeclined"]
