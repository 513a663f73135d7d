"""Faust agents: the Kafka edge. Each raw record goes through the kernel's dispatch rule.

The kernel Dispatcher decodes the CloudEvents headers and the protobuf value, opens the consumer span,
retries TransientError with a bound and returns a dead-letter record for anything undecodable or failed,
which the kernel's DeadLetters forwards. Nothing escapes the loop: a crashed agent would stall its partition.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import faust

from conveyor_kernel import BrokerUnavailable, Dispatcher, KafkaSettings, Record, TransientError

logger = logging.getLogger(__name__)

Forward = Callable[[Record], Awaitable[None]]  # the runtime's `dead_letters.forward`
WaitForBroker = Callable[[], Awaitable[None]]  # the runtime's `broker.wait_reachable`


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


async def wait_a_moment() -> None:
    await asyncio.sleep(0.5)


def _consumer(dispatcher: Dispatcher, forward: Forward,
              wait_for_broker: WaitForBroker = wait_a_moment) -> Callable[..., Any]:
    async def consume(stream: faust.StreamT) -> None:
        async for event in stream.events():
            record = record_of(event)
            while True:  # the broker away (BrokerUnavailable) is not the record's fault: wait, then again
                try:
                    await _handle(dispatcher, forward, record)
                    break
                except BrokerUnavailable as exc:
                    logger.warning("%s@%d waits for the broker: %s", record.topic, record.offset, exc)
                    await wait_for_broker()

    return consume


async def _handle(dispatcher: Dispatcher, forward: Forward, record: Record) -> None:
    failed = await dispatcher.dispatch(record)
    if failed is None:
        return
    try:
        await forward(failed)
    except BrokerUnavailable:
        raise
    except TransientError:
        # faust acks the event when the agent takes the next one, and raising would crash the agent
        # and stall the partition: a record the broker would not take as a dead letter is dropped.
        logger.exception("could not dead-letter %s@%d; record dropped", record.topic, record.offset)


def register_agents(app: faust.App, kafka: KafkaSettings, sources: Iterable[str], dispatcher: Dispatcher,
                    forward: Forward, wait_for_broker: WaitForBroker = wait_a_moment) -> None:
    """One agent per source topic (base names), named after it: monitor-predictions, monitor-registry."""
    for source in sources:
        topic = app.topic(kafka.topic(source), key_serializer="raw", value_serializer="raw")
        name = f"{dispatcher.group}-{source.rsplit('.', 1)[-1]}"
        app.agent(topic, name=name)(_consumer(dispatcher, forward, wait_for_broker))
