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
"""

import logging
from collections.abc import Iterable

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
    moved = {}
    for tp in partitions:
        target = committed.get((tp.topic, tp.partition), earliest[tp])
        await consumer.seek(tp, target)
        moved[f"{tp.topic}[{tp.partition}]"] = target
    logger.info("source partitions rewound after recovery: %s", moved)
    return moved
