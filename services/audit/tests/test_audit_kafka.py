"""The audit consumer on the real broker: every event once, garbage dead-lettered, restart-safe."""

import asyncio
from collections.abc import Callable

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.integrity import verify_snapshot
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_kernel import Record, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.kafka import KafkaPublisher
from conveyor_kernel.memory import build_record

pytestmark = pytest.mark.integration


async def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


async def problems(app: FastAPI) -> list[str]:
    """What the running app's components still wait for, as /readyz lists it."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://audit",
                                 auth=AllowedCaller.of(app)) as client:
        return (await client.get("/readyz")).json().get("waiting_for", [])


async def read_all(settings, topic: str) -> list[Record]:
    partition = TopicPartition(settings.topic(topic), 0)
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        total = (await consumer.end_offsets([partition]))[partition]
        records: list[Record] = []
        while len(records) < total:
            for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                records += [Record(m.topic, m.key, m.value, list(m.headers), m.partition, m.offset)
                            for m in messages]
        return records
    finally:
        await consumer.stop()


async def test_ledger_records_each_event_once_across_restarts(kafka_settings, backend, tmp_path) -> None:
    settings = AuditSettings(data_dir=tmp_path, kafka=kafka_settings, **backend.settings)
    prefix = kafka_settings.topic_prefix
    producer = KafkaPublisher(kafka_settings, source="test")
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # creates the topics before anyone publishes
        await producer.start()
        ids = [(await producer.publish(event, subject)).id for event, subject in [
            (ev.DatasetArrived(dataset_id="d1", name="credit"), "d1"),
            (ev.ModelTrained(model_name="credit", run_id="r1"), "credit"),
            (ev.ModelPromoted(model_name="credit", version=1), "credit"),
        ]]
        twice, envelope = build_record(ev.ModelDeployed(model_name="credit", version=1), "credit", "serving", prefix)
        await producer.send(twice)
        await producer.send(twice)  # a producer retry after a lost ack: same ce_id, new offset
        ids.append(envelope.id)
        garbage = Record(kafka_settings.topic(topics.DATASETS), b"x", b"not an event", [("ce_id", b"g-1")])
        await producer.send(garbage)
        ids.append((await producer.publish(ev.RetrainRequested(model_name="credit"), "credit")).id)

        ledger = app.state.keeper.ledger
        assert ledger is not None
        datasets = (kafka_settings.topic(topics.DATASETS), 0)
        await wait_for(lambda: ledger.size == 5 and ledger.offsets().get(datasets) == 2, "5 entries")
        entries = ledger.find(None, None, 100, 0)[1]
        assert sorted(e.event_id for e in entries) == sorted(ids)  # topics interleave in any order
        deployed = ledger.find(None, "conveyor.events.v1.ModelDeployed", 100, 0)[1]
        assert [(e.event_id, e.offset) for e in deployed] == [(envelope.id, 0)]  # first delivery kept
        dead = await read_all(kafka_settings, topics.DEAD_LETTER)
        assert [dict(r.headers)["dlq_reason"].decode() for r in dead] == [
            "audit cannot record it: missing CloudEvents header(s): ce_type, ce_source"
        ]
        assert verify_snapshot(ledger.snapshot()).ok
        assert ledger.offsets()[(kafka_settings.topic(topics.DEPLOYMENTS), 0)] == 2

    # A new instance on the same database picks up where the ledger says, not from the beginning.
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            await producer.send(twice)  # redelivered across the restart: still stored once
            later = (await producer.publish(ev.PromotionDeclined(model_name="credit", version=2), "credit")).id
            ledger = app.state.keeper.ledger
            assert ledger is not None
            deployments = (kafka_settings.topic(topics.DEPLOYMENTS), 0)
            await wait_for(lambda: ledger.size == 6 and ledger.offsets()[deployments] == 3,
                           "the 6th entry and the redelivery")
            assert await problems(app) == []
            stored = [e.event_id for e in ledger.find(None, None, 100, 0)[1]]
            assert sorted(stored) == sorted([*ids, later]) and len(set(stored)) == 6
            assert len(await read_all(kafka_settings, topics.DEAD_LETTER)) == 1
            report = verify_snapshot(ledger.snapshot())
            assert report.ok and report.size == 6
    finally:
        await producer.stop()
