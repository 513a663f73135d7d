"""SIGKILL the monitor mid-window and restart it: the window continues, nothing lost, nothing counted twice."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import KafkaSettings
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.kafka import KafkaPublisher
from conveyor_monitor.settings import MonitorSettings

pytestmark = pytest.mark.integration

WINDOW = 200
BATCH = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_monitor(kafka_settings, data_dir, port: int) -> subprocess.Popen:
    env = os.environ | {
        **kafka_settings.as_env(),
        "CONVEYOR_DATA_DIR": str(data_dir),
        "CONVEYOR_PORT": str(port),
        "CONVEYOR_HOST": "127.0.0.1",
        "CONVEYOR_WINDOW_SIZE": str(WINDOW),
        # Offsets stay uncommitted until the kill: every batch is redelivered after the restart, so the
        # test exercises the double-counting path, not only the easy one.
        "CONVEYOR_COMMIT_INTERVAL_SECONDS": "3600",
        "CONVEYOR_SESSION_TIMEOUT_SECONDS": "6",  # the broker's minimum: the restart need not wait long
    }
    return subprocess.Popen([sys.executable, "-m", "conveyor_monitor"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


async def eventually(check, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await check()
        except httpx.TransportError:
            result = None
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


async def last_window_rows(kafka: KafkaSettings, topic: str) -> int | None:
    """Rows in the newest changelog record of the windows table (what a restart will recover)."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        if topic not in await consumer.topics():
            return None
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            return None
        consumer.seek(tp, end - 1)
        records = (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
        return int(json.loads(records[-1].value)["rows"]) if records else None
    finally:
        await consumer.stop()


async def test_sigkill_and_restart_neither_loses_nor_double_counts(kafka_settings, tmp_path, samples):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    _, uri = MonitorSettings(data_dir=tmp_path).artifacts().put_json("references", samples.reference())
    changelog = kafka_settings.topic("monitor-windows-changelog")
    registry = KafkaPublisher(kafka_settings, source="registry")
    serving = KafkaPublisher(kafka_settings, source="serving")
    first = start_monitor(kafka_settings, tmp_path, port)
    second = None
    async with httpx.AsyncClient(base_url=url, timeout=5, auth=AllowedCaller(tmp_path / "auth", "monitor")) as client:
        await registry.start()
        await serving.start()
        try:
            await eventually(lambda: _ready(client), "the first monitor to be ready")
            await registry.publish(
                ev.ModelPromoted(model_name="churn", version=1, reference_uri=uri, dataset_id="d1"), "churn"
            )
            for _ in range(3):  # 150 of a 200-row window
                await serving.publish(samples.batch("churn", 1, BATCH), "churn")
            await eventually(
                lambda: _window_rows(client, 150), "150 rows in the open window", timeout=60
            )
            await eventually(lambda: _equals(last_window_rows(kafka_settings, changelog), 150),
                             "the changelog to hold the 150-row window")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)

            second = start_monitor(kafka_settings, tmp_path, port)
            await eventually(lambda: _ready(client), "the restarted monitor to be ready")
            for _ in range(5):  # 250 more: exactly two full windows iff the 150 survived once
                await serving.publish(samples.batch("churn", 1, BATCH), "churn")
            report = await eventually(lambda: _evaluations(client, 2), "two windows after the restart")
            assert [e["window_size"] for e in report["evaluations"]] == [WINDOW, WINDOW]
            assert report["open_window_rows"] == 0  # lost rows would leave 50 here; doubled ones 150
            metrics = (await client.get("/metrics")).text
            assert 'conveyor_monitor_predictions_consumed_total{model="churn"} 250.0' in metrics
        finally:
            await serving.stop()
            await registry.stop()
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(timeout=30)


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _equals(awaitable, expected) -> bool:
    return await awaitable == expected


async def _window_rows(client: httpx.AsyncClient, rows: int) -> bool:
    response = await client.get("/models/churn/drift")
    return response.status_code == 200 and response.json()["open_window_rows"] == rows


async def _evaluations(client: httpx.AsyncClient, count: int):
    response = await client.get("/models/churn/drift")
    if response.status_code == 200 and len(response.json()["evaluations"]) >= count:
        return response.json()
    return None
