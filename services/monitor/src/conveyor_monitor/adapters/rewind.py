"""Closing faust's start-up gap: after table recovery, seek the source topics back to their committed offsets.

faust (0.15, issue faust-streaming/faust#596) resumes the stream partitions and lets the fetcher run while it
looks up committed offsets, then `flow_control.resume()` clears every stream queue. Records fetched in that
gap are dropped, yet the consumer's read offset has moved past them: they are never redelivered. Where the
group has no committed offset yet (a fresh monitor, or one that never committed before it was killed)
aiokafka does not even seek, so the loss is silent; elsewhere commits stall behind the hole. The bench saw
one PredictionsLogged batch in about three starts with a backlog vanish this way.

Seeking again once recovery is over (to the committed offset, or the partition's first offset when there is
none) replays that gap. A replay is harmless here: the window state skips batch ids it already holds, and a
redelivered ModelPromoted/ModelRegistered changes nothing.

The seek itself must not land while faust's fetch loop is still handing out an earlier fetch (aiokafka's
`seek` warns of data loss "in the middle of consumption"): faust raises its read offset with each record of
that fetch, then drops the replayed records below it as already read. The bench lost one 500-row batch in
about one start of three that way once batches grew to serving's size. So the seek runs inside faust's
`_wait_next_records`, which the fetch loop enters only between fetches, once.
"""

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import faust
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from conveyor_kernel import KafkaSettings

logger = logging.getLogger(__name__)


async def committed_offsets(kafka: KafkaSettings, group: str) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items() if meta.offset >= 0}


async def rewind_sources(app: faust.App, kafka: KafkaSettings, sources: Iterable[str]) -> dict[str, int]:
    """Seek each assigned source partition to its committed offset (else its first); returns where it went."""
    wanted = set(sources)
    consumer = app.consumer
    partitions = [TopicPartition(tp.topic, tp.partition) for tp in consumer.assignment() if tp.topic in wanted]
    if not partitions:
        return {}
    committed = await committed_offsets(kafka, app.conf.id)
    earliest = await consumer.earliest_offsets(*partitions)
    targets = {tp: committed.get((tp.topic, tp.partition), earliest[tp]) for tp in partitions}
    await between_fetches(consumer, targets)
    moved = {f"{tp.topic}[{tp.partition}]": target for tp, target in targets.items()}
    logger.info("source partitions rewound after recovery: %s", moved)
    return moved


async def between_fetches(consumer: Any, targets: dict[TopicPartition, int]) -> None:
    """Seek when faust's fetch loop next asks for records: every record of its previous fetch is through."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def seek_then_wait(timeout: float) -> Any:
        del consumer._wait_next_records  # once: the class's method again from now on
        try:
            for tp, target in targets.items():
                await consumer.seek(tp, target)
        except BaseException as exc:
            done.set_exception(exc)
            raise
        done.set_result(None)
        return await consumer._wait_next_records(timeout)

    consumer._wait_next_records = seek_then_wait
    try:
        await done
    finally:
        consumer.__dict__.pop("_wait_next_records", None)
