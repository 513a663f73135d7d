"""Faust agents: the Kafka edge. Each raw record goes through the kernel's dispatch rule.

The kernel Dispatcher decodes the CloudEvents headers (`Envelope.from_headers`) and the protobuf value
(`decode_event`), opens the consumer span, retries TransientError with a bound and returns a
`dead_letter()` record for anything undecodable or failed, which is sent on with the KafkaPublisher.
Nothing escapes the loop: a crashed agent would stall its partition.
"""

import logging
from collections.abc import Callable
from typing import Any

import faust

from conveyor_kernel import Dispatcher, KafkaPublisher, Record, TransientError

from .app import SourceTopics

logger = logging.getLogger(__name__)


def record_of(event: faust.EventT) -> Record:
    message = event.message
    headers = message.headers or {}
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    return Record(
        topic=message.topic,
        key=message.key,
        value=message.value,
        headers=pairs,
        partition=message.partition,
        offset=message.offset,
    )


def _consumer(dispatcher: Dispatcher, publisher: KafkaPublisher, prefix: str) -> Callable[..., Any]:
    async def consume(stream: faust.StreamT) -> None:
        async for event in stream.events():
            record = record_of(event)
            failed = await dispatcher.dispatch(record)
            if failed is None:
                continue
            reason = dict(failed.headers)["dlq_reason"].decode()
            logger.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
            try:
                await publisher.send(Record(prefix + failed.topic, failed.key, failed.value, failed.headers))
            except TransientError:
                logger.exception("could not dead-letter %s@%d; record dropped", record.topic, record.offset)

    return consume


def register_agents(
    app: faust.App, sources: SourceTopics, dispatcher: Dispatcher, publisher: KafkaPublisher, prefix: str
) -> None:
    app.agent(sources.registry, name="monitor-registry")(_consumer(dispatcher, publisher, prefix))
    app.agent(sources.predictions, name="monitor-predictions")(_consumer(dispatcher, publisher, prefix))
