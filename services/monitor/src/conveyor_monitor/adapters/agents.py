"""Faust agents: the Kafka edge. Each raw record goes through the kernel's dispatch rule.

The kernel Dispatcher decodes the CloudEvents headers and the protobuf value, opens the consumer span,
retries TransientError with a bound and returns a dead-letter record for anything undecodable or failed,
which the kernel's DeadLetters forwards. Nothing escapes the loop: a crashed agent would stall its partition.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import faust

from conveyor_kernel import Dispatcher, KafkaSettings, Record, TransientError

logger = logging.getLogger(__name__)

Forward = Callable[[Record], Awaitable[None]]  # the runtime's `dead_letters.forward`


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


def _consumer(dispatcher: Dispatcher, forward: Forward) -> Callable[..., Any]:
    async def consume(stream: faust.StreamT) -> None:
        async for event in stream.events():
            record = record_of(event)
            failed = await dispatcher.dispatch(record)
            if failed is None:
                continue
            try:
                await forward(failed)
            except TransientError:
                # faust acks the event when the agent takes the next one, and raising would crash the agent
                # and stall the partition: a record the broker would not take as a dead letter is dropped.
                logger.exception("could not dead-letter %s@%d; record dropped", record.topic, record.offset)

    return consume


def register_agents(app: faust.App, kafka: KafkaSettings, sources: Iterable[str], dispatcher: Dispatcher,
                    forward: Forward) -> None:
    """One agent per source topic (base names), named after it: monitor-predictions, monitor-registry."""
    for source in sources:
        topic = app.topic(kafka.topic(source), key_serializer="raw", value_serializer="raw")
        name = f"{dispatcher.group}-{source.rsplit('.', 1)[-1]}"
        app.agent(topic, name=name)(_consumer(dispatcher, forward))
