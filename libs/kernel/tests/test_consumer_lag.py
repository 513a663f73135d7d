"""Consumer lag on the real broker: records waiting behind a busy handler show up in /metrics, and drain to 0."""

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import EventRuntime, ServiceSettings, create_service_app, topics

pytestmark = pytest.mark.integration


async def _until(condition, what: str, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


async def test_lag_counts_the_records_behind_a_blocked_handler_and_returns_to_zero(kafka_settings, tmp_path):
    settings = ServiceSettings(kafka=kafka_settings, data_dir=tmp_path)
    producer = EventRuntime(settings, source="test", publishes=[ev.ModelDeployed])
    release = asyncio.Event()
    handled: list[int] = []

    async def slow(event, envelope) -> None:
        await release.wait()
        handled.append(event.version)

    consumer = EventRuntime(settings, source="test")
    consumer.subscribe({ev.ModelDeployed: slow}, group="lag")
    registry = CollectorRegistry()
    create_service_app("probe", service="probe", settings=settings, components=[consumer], registry=registry)
    await producer.start()
    await consumer.start()
    try:
        for version in range(1, 6):
            await producer.publisher.publish(ev.ModelDeployed(model_name="m", version=version), subject="m")
        labels = {"group": kafka_settings.group("lag"), "topic": kafka_settings.topic(topics.DEPLOYMENTS),
                  "partition": "0"}

        def lag():
            return registry.get_sample_value("conveyor_consumer_lag", labels)

        await _until(lambda: lag() == 5, "lag 5 while the first record waits in its handler")
        release.set()
        await _until(lambda: len(handled) == 5, "all five handled")
        await _until(lambda: lag() == 0, "lag back to 0")
    finally:
        release.set()
        await consumer.stop()
        await producer.stop()
