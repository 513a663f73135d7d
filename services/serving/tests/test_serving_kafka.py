"""Serving on the real broker: a ModelPromoted on Kafka becomes a ready model, ModelDeployed and PredictionsLogged."""

import asyncio
import logging
import time

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor.events.v1.predictions import prediction_rows
from conveyor_kernel import Envelope, decode_event
from conveyor_kernel.callers import signed
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_serving.settings import ServingSettings
from conveyor_serving.wiring import create_app

pytestmark = pytest.mark.integration


async def _publish(kafka_settings, event) -> None:
    publisher = KafkaPublisher(kafka_settings, source="registry")
    await publisher.start()
    try:
        await publisher.publish(event, subject=event.model_name)
    finally:
        await publisher.stop()


async def _read(kafka_settings, event_cls, count: int) -> list:
    """Every `event_cls` on its topic, waiting (bounded) until at least `count` are there."""
    partition = TopicPartition(kafka_settings.topic(event_cls), 0)
    consumer = AIOKafkaConsumer(**kafka_settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    found: list = []
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        deadline = time.monotonic() + 30
        while len(found) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(partition, timeout_ms=500)).values():
                for m in messages:
                    envelope = Envelope.from_headers(list(m.headers))
                    found.append((envelope, decode_event(envelope, m.value)))
        return found
    finally:
        await consumer.stop()


def test_promotion_on_kafka_is_served_and_logged(kafka_settings, models):
    asyncio.run(ensure_topics(kafka_settings, [ev.ModelPromoted, ev.ModelDeployed, ev.PredictionsLogged]))
    promotion = ev.ModelPromoted(model_name="cancer", version=1, artifact_uri=models.v1_uri, action="promote",
                                 feature_names=[f"f{i}" for i in range(30)], task=ev.TASK_CLASSIFICATION)
    asyncio.run(_publish(kafka_settings, promotion))
    settings = ServingSettings(data_dir=models.data_dir, kafka=kafka_settings, log_flush_interval=0.1, grpc_port=0)
    rows = models.X[:4]

    with signed(TestClient(create_app(settings))) as client:
        deadline = time.monotonic() + 60
        while client.get("/v2/health/ready").json() != {"ready": True} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2/models/cancer/ready").status_code == 200  # ready means the champion is back
        response = client.post("/v2/models/cancer/infer", json={"id": "kafka-1", "inputs": [
            {"name": "input", "shape": [4, 30], "datatype": "FP32", "data": rows.tolist()}]})
        assert response.status_code == 200, response.text
        assert response.json()["outputs"][0]["data"] == models.v1.predict(rows).tolist()
        logged = asyncio.run(_read(kafka_settings, ev.PredictionsLogged, 1))
        instance = client.app.state.serving.ports.instance

    (_, predictions), = logged
    assert (predictions.model_name, predictions.version) == ("cancer", 1)
    assert [p.request_id for p in prediction_rows(predictions)] == ["kafka-1"] * 4
    np.testing.assert_allclose([list(p.probabilities) for p in prediction_rows(predictions)],
                               models.v1.predict_proba(rows), atol=1e-5)
    ((envelope, deployed),) = asyncio.run(_read(kafka_settings, ev.ModelDeployed, 1))
    assert (deployed.model_name, deployed.version, deployed.instance) == ("cancer", 1, instance)
    assert envelope.source == "serving" and envelope.subject == "cancer"


def test_a_canary_and_its_rollback_on_kafka_reach_serving(kafka_settings, models, caplog):
    asyncio.run(ensure_topics(kafka_settings, [ev.ModelPromoted]))
    features = [f"f{i}" for i in range(30)]
    asyncio.run(_publish(kafka_settings, ev.ModelPromoted(model_name="cancer", version=1, artifact_uri=models.v1_uri,
                                                          feature_names=features, task=ev.TASK_CLASSIFICATION)))
    asyncio.run(_publish(kafka_settings, ev.TrafficSplitSet(
        model_name="cancer", mode="canary", champion_version=1, candidate_version=2,
        candidate_artifact_uri=models.v2_uri, canary_weight=1.0, feature_names=features,
        task=ev.TASK_CLASSIFICATION)))
    settings = ServingSettings(data_dir=models.data_dir, kafka=kafka_settings, grpc_port=0)

    def traffic(client) -> dict:
        response = client.get("/v2/models/cancer")
        return response.json()["parameters"]["traffic"] if response.status_code == 200 else {}

    def wait_for(client, mode: str) -> float:
        started = time.monotonic()
        while traffic(client).get("mode") != mode and time.monotonic() - started < 60:
            time.sleep(0.01)
        return time.monotonic() - started

    with signed(TestClient(create_app(settings))) as client:
        wait_for(client, "canary")
        assert traffic(client) == {"mode": "canary", "candidate_version": "2", "canary_weight": 1.0}
        body = {"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": models.X[0].tolist()}]}
        assert client.post("/v2/models/cancer/infer", json=body).json()["model_version"] == "2"

        asyncio.run(_publish(kafka_settings, ev.TrafficSplitSet(model_name="cancer", mode="", champion_version=1)))
        seconds = wait_for(client, "none")

        assert traffic(client) == {"mode": "none"}
        assert client.post("/v2/models/cancer/infer", json=body).json()["model_version"] == "1"
    logging.getLogger(__name__).warning("rollback reached serving %.3f s after it was published", seconds)
