"""The audit consumer on the real broker: every event once, garbage dead-lettered, restart-safe."""

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.settings import AuditSettings
from conveyor_audit.verify import verify_snapshot
from conveyor_audit.wiring import AuditService
from conveyor_kernel import KafkaPublisher, Record, build_record, topics

pytestmark = pytest.mark.integration


async def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


async def read_all(settings, topic: str) -> list[Record]:
    partition = TopicPartition(settings.topic_prefix + topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
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


async def test_ledger_records_each_event_once_across_restarts(kafka_settings, tmp_path) -> None:
    settings = AuditSettings(data_dir=tmp_path, kafka=kafka_settings)
    prefix = kafka_settings.topic_prefix
    producer = KafkaPublisher(kafka_settings, source="test")
    service = AuditService(settings)
    await service.start()  # creates the topics before anyone publishes
    await producer.start()
    try:
        ids = [(await producer.publish(event, subject)).id for event, subject in [
            (ev.DatasetArrived(dataset_id="d1", name="credit"), "d1"),
            (ev.ModelTrained(model_name="credit", run_id="r1"), "credit"),
            (ev.ModelPromoted(model_name="credit", version=1), "credit"),
        ]]
        twice, envelope = build_record(ev.ModelDeployed(model_name="credit", version=1), "credit", "serving", prefix)
        await producer.send(twice)
        await producer.send(twice)  # a producer retry after a lost ack: same ce_id, new offset
        ids.append(envelope.id)
        garbage = Record(prefix + topics.DATASETS, b"x", b"not an event", [("ce_id", b"g-1")])
        await producer.send(garbage)
        ids.append((await producer.publish(ev.RetrainRequested(model_name="credit"), "credit")).id)

        ledger = service.ledger
        assert ledger is not None
        datasets = (prefix + topics.DATASETS, 0)
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
        assert ledger.offsets()[(prefix + topics.DEPLOYMENTS, 0)] == 2
    finally:
        await service.stop()

    # A new instance on the same database picks up where the ledger says, not from the beginning.
    service = AuditService(settings)
    await service.start()
    try:
        await producer.send(twice)  # redelivered across the restart: still stored once
        later = (await producer.publish(ev.PromotionDeclined(model_name="credit", version=2), "credit")).id
        ledger = service.ledger
        assert ledger is not None
        await wait_for(lambda: ledger.size == 6 and ledger.offsets()[(prefix + topics.DEPLOYMENTS, 0)] == 3,
                       "the 6th entry and the redelivery")
        assert service.problems() == []
        stored = [e.event_id for e in ledger.find(None, None, 100, 0)[1]]
        assert sorted(stored) == sorted([*ids, later]) and len(set(stored)) == 6
        assert len(await read_all(kafka_settings, topics.DEAD_LETTER)) == 1
        report = verify_snapshot(ledger.snapshot())
        assert report.ok and report.size == 6
    finally:
        await service.stop()
        await producer.stop()
