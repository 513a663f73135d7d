"""Issue 15 on the real broker. Finding 6: a restarted serving is ready only once its champions are back,
republishes nothing for past promotions, announces a promotion nobody announced, and leaves no consumer group
behind. Finding 1: one huge request neither blinds the prediction log nor gets 200."""

import asyncio
import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel.callers import signed
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_serving.settings import ServingSettings
from conveyor_serving.wiring import create_app

from .test_serving_kafka import _read

pytestmark = pytest.mark.integration
FEATURES = [f"f{i}" for i in range(30)]


def _promotion(version: int, uri: str) -> ev.ModelPromoted:
    return ev.ModelPromoted(model_name="cancer", version=version, artifact_uri=uri, action="promote",
                            feature_names=FEATURES, task=ev.TASK_CLASSIFICATION)


async def _publish(kafka_settings, *events) -> None:
    publisher = KafkaPublisher(kafka_settings, source="registry")
    await publisher.start()
    try:
        for event in events:
            await publisher.publish(event, subject=event.model_name)
    finally:
        await publisher.stop()


def _first_ready(client: TestClient) -> int | None:
    """The champion serving has at the first moment it reports ready."""
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.02)
    return client.app.state.serving.ports.repository.champion_version("cancer")


def _serving(models, kafka_settings, instance: str) -> TestClient:
    settings = ServingSettings(data_dir=models.data_dir, kafka=kafka_settings, grpc_port=0, instance=instance,
                               log_flush_interval=0.1)
    return signed(TestClient(create_app(settings)))


def _deployments(kafka_settings, count: int) -> list[tuple[int, str]]:
    return [(d.version, d.instance) for _, d in asyncio.run(_read(kafka_settings, ev.ModelDeployed, count))]


def test_a_restart_is_ready_with_its_champion_and_republishes_nothing(kafka_settings, models):
    asyncio.run(ensure_topics(kafka_settings, [ev.ModelPromoted, ev.ModelDeployed, ev.PredictionsLogged]))
    asyncio.run(_publish(kafka_settings, _promotion(1, models.v1_uri), _promotion(2, models.v2_uri)))
    with _serving(models, kafka_settings, "first") as client:
        assert _first_ready(client) == 2
        assert client.app.state.serving.ports.repository.versions("cancer") == [2]  # v1 was never loaded
    # the first process announced the champion it restored (nobody had) and nothing for v1, long replaced
    assert _deployments(kafka_settings, 1) == [(2, "first")]
    for instance in ("second", "third"):
        with _serving(models, kafka_settings, instance) as client:
            assert _first_ready(client) == 2
    asyncio.run(_publish(kafka_settings, _promotion(3, models.v1_uri)))  # while no serving runs
    with _serving(models, kafka_settings, "fourth") as client:
        assert _first_ready(client) == 3
        asyncio.run(_publish(kafka_settings, _promotion(4, models.v2_uri)))  # live, after the restart
        deadline = time.monotonic() + 30
        while client.app.state.serving.ports.repository.champion_version("cancer") != 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert _deployments(kafka_settings, 3) == [(2, "first"), (3, "fourth"), (4, "fourth")]
    assert not asyncio.run(_groups(kafka_settings)), "serving left a consumer group behind"


async def _groups(kafka_settings) -> list[str]:
    admin = AIOKafkaAdminClient(**kafka_settings.client_options())
    await admin.start()
    try:
        return [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(kafka_settings.topic_prefix)]
    finally:
        await admin.close()


def _infer(client: TestClient, rows, request_id: str, **parameters):
    body = {"id": request_id, "inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32",
                                          "data": rows.tolist()}]}
    if parameters:
        body["parameters"] = parameters
    return client.post("/v2/models/cancer/infer", json=body)


def test_one_huge_request_neither_gets_200_nor_blinds_the_prediction_log(kafka_settings, models):
    asyncio.run(ensure_topics(kafka_settings, [ev.ModelPromoted, ev.ModelDeployed, ev.PredictionsLogged]))
    asyncio.run(_publish(kafka_settings, _promotion(1, models.v1_uri)))
    rows = models.X[:200]
    with _serving(models, kafka_settings, "log") as client:
        assert _first_ready(client) == 1
        refused = _infer(client, rows[:1], "x" * 5_000_000)
        assert refused.status_code == 400
        assert '"id" has 5000000 characters' in refused.json()["error"]
        # 200 rows each carrying 8 KB of attributes: 1.6 MB, more than one record may hold
        wide = _infer(client, rows, "wide", attributes={"note": ["n" * 8000] * len(rows)})
        assert wide.status_code == 200
        one_row_too_big = _infer(client, rows[:1], "huge-row", attributes={"note": ["n" * 2_000_000]})
        assert one_row_too_big.status_code == 200  # answered; its log row cannot travel and is counted
        after = _infer(client, rows[:3], "after")
        assert after.status_code == 200
        # wide in 2 events, after in 1
        logged = [e for _, e in asyncio.run(_read(kafka_settings, ev.PredictionsLogged, 3))]
        metrics = client.app.state.serving.ports.metrics.registry
        too_large = metrics.get_sample_value("conveyor_serving_prediction_log_dropped_total", {"reason": "too_large"})
        failed = metrics.get_sample_value("conveyor_serving_prediction_log_dropped_total",
                                          {"reason": "publish_failed"})
    ids = [request_id for e in logged for request_id in e.columns.request_ids]
    assert ids.count("wide") == 200 and ids.count("after") == 3 and "huge-row" not in ids
    assert len({id(e) for e in logged if "wide" in e.columns.request_ids}) > 1  # cut into several events
    assert too_large == 1 and not failed
