"""Issue 15, finding 1, end to end on the real broker: one inference with a 5 MB `id` got 200, its log batch
exceeded Kafka's record limit, and the idempotent producer then failed every later batch: 11,002 prediction
rows never reached the monitor while inference kept answering 200.

Here serving and the monitor run as deployed (their apps, the real broker, one artifact folder). The 5 MB id
is refused with 400 naming the field; a request whose one log row is too large for any record is answered and
its row counted as dropped; and the predictions after both still reach the monitor: it joins their labels."""

import asyncio
import time
from contextlib import AsyncExitStack

import httpx
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import create_app as create_monitor
from conveyor_serving.settings import ServingSettings
from conveyor_serving.wiring import create_app as create_serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def _until(check, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        await asyncio.sleep(0.1)


def _infer_body(rows, request_id: str, **parameters) -> dict:
    body = {"id": request_id, "inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32",
                                          "data": rows.flatten().tolist()}]}
    if parameters:
        body["parameters"] = parameters
    return body


async def test_a_huge_request_does_not_blind_the_monitor(kafka_settings, tmp_path, champion):
    X = champion.X
    await ensure_topics(kafka_settings, [ev.ModelPromoted, ev.ModelDeployed, ev.PredictionsLogged])
    registry = KafkaPublisher(kafka_settings, source="registry")
    await registry.start()
    try:
        await registry.publish(champion.promoted("m"), "m")
    finally:
        await registry.stop()
    serving = create_serving(ServingSettings(data_dir=tmp_path, kafka=kafka_settings, grpc_port=0,
                                             log_flush_interval=0.1))
    monitor = create_monitor(MonitorSettings(data_dir=tmp_path, kafka=kafka_settings, window_size=10_000))
    async with AsyncExitStack() as stack:
        clients = []
        for app, name in ((monitor, "monitor"), (serving, "serving")):
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", auth=AllowedCaller.of(app)))
            clients.append(client)
        monitor_http, serving_http = clients

        async def both_ready() -> bool:
            return [(await c.get("/readyz")).status_code for c in clients] == [200, 200]

        await _until(both_ready, "serving and the monitor ready")
        infer = "/v2/models/m/infer"
        refused = await serving_http.post(infer, json=_infer_body(X[:1], "x" * 5_000_000))
        assert refused.status_code == 400 and '"id" has 5000000 characters' in refused.json()["error"]
        huge_row = await serving_http.post(infer, json=_infer_body(X[:1], "huge-row",
                                                                    attributes={"note": ["n" * 2_000_000]}))
        assert huge_row.status_code == 200  # answered; its log row cannot travel, and is counted
        after = [f"after-{i}" for i in range(20)]
        for request_id in after:
            assert (await serving_http.post(infer, json=_infer_body(X[:5], request_id))).status_code == 200

        labels = {"labels": [{"request_id": r, "row": row, "label": "1"} for r in after for row in range(5)]}
        async def monitor_has_them() -> bool:
            # rows it joined are no longer pending: ask only for those it has not seen yet
            body = (await monitor_http.post("/labels", json=labels)).json()
            matched = {(r["request_id"], r["row"]) for r in body["unmatched"]}
            labels["labels"] = [lab for lab in labels["labels"] if (lab["request_id"], lab["row"]) in matched]
            return not labels["labels"]

        await _until(monitor_has_them, "every row after the huge requests reaching the monitor")
        dropped = serving.state.serving.ports.metrics.registry.get_sample_value(
            "conveyor_serving_prediction_log_dropped_total", {"reason": "too_large"})
        failed = serving.state.serving.ports.metrics.registry.get_sample_value(
            "conveyor_serving_prediction_log_dropped_total", {"reason": "publish_failed"})
    assert dropped == 1 and not failed
