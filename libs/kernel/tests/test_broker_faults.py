"""The bus under broker faults (issue 15, findings 3 and 4), on a broker of the test's own that it kills and
restarts: a publish answers within the timeout and never lands later, readiness follows the broker, and a
consumer loses nothing across a restart. Topic creation and the replay run on the shared broker."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from confluent_kafka.admin import AdminClient, ConfigResource

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import BrokerUnavailable, Envelope, EventRuntime, ServiceSettings, topics
from conveyor_kernel.kafka import ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        await asyncio.sleep(0.05)


async def _records(kafka, topic: str) -> list:
    """Every record on partition 0 of a topic, read from the start."""
    partition = TopicPartition(kafka.topic(topic), 0)
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        found = []
        while await consumer.position(partition) < end:
            for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                found += messages
        return found
    finally:
        await consumer.stop()


async def test_topics_are_created_with_the_partitions_replicas_and_retention_of_the_settings(kafka_settings):
    kafka = kafka_settings.model_copy(update={"partitions": 2, "predictions_retention_hours": 5})
    await ensure_topics(kafka, [topics.REGISTRY, topics.PREDICTIONS, topics.DEAD_LETTER])
    admin = AdminClient(kafka.librdkafka_options())
    names = [kafka.topic(t) for t in (topics.REGISTRY, topics.PREDICTIONS, topics.DEAD_LETTER)]
    assert len(admin.list_topics(names[0], timeout=10).topics[names[0]].partitions) == 2
    futures = admin.describe_configs([ConfigResource("topic", n) for n in names])
    configs = {resource.name: {k: v.value for k, v in future.result(10).items()}
               for resource, future in futures.items()}
    registry, predictions, dead = (configs[n] for n in names)
    assert registry["retention.ms"] == "-1" and registry["cleanup.policy"] == "delete"  # serving replays it all
    assert predictions["retention.ms"] == str(5 * 3_600_000)
    assert predictions["retention.bytes"] == str(1 << 30)
    assert dead["retention.ms"] == str(30 * 86_400_000)


@pytest.fixture
async def runtime(private_kafka):
    runtime = EventRuntime(ServiceSettings(kafka=private_kafka), source="test", publishes=[ev.ModelDeployed])
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_with_the_broker_down_a_publish_fails_in_time_and_never_lands_later(private_broker, private_kafka,
                                                                                 runtime):
    await runtime.publisher.publish(ev.ModelDeployed(model_name="before", version=1), "before")
    private_broker.kill()
    # at once, before the probe noticed: the producer itself gives up within the publish timeout
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        await runtime.publisher.publish(ev.ModelDeployed(model_name="lost-1", version=1), "lost-1")
    assert time.monotonic() - started < 5
    # once the probe noticed, readiness says so and a publish fails without waiting
    await _until(lambda: "kafka broker unreachable" in runtime.problems(), 5, "readiness false")
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        await runtime.publisher.publish(ev.ModelDeployed(model_name="lost-2", version=1), "lost-2")
    assert time.monotonic() - started < 0.5
    private_broker.start()
    await _until(lambda: runtime.problems() == [], 30, "readiness true again")
    await runtime.publisher.publish(ev.ModelDeployed(model_name="after", version=1), "after")
    keys = [m.key for m in await _records(private_kafka, topics.DEPLOYMENTS)]
    assert keys == [b"before", b"after"]  # the refused ones never landed


async def test_a_consumer_loses_nothing_and_dead_letters_nothing_across_a_broker_restart(private_broker,
                                                                                       private_kafka):
    """Each consumed event is answered with a published one; the broker dies in the middle of the stream."""
    settings = ServiceSettings(kafka=private_kafka)
    producer = EventRuntime(settings, source="upstream", publishes=[ev.ModelPromoted])
    consumer = EventRuntime(settings, source="downstream", publishes=[ev.ModelDeployed])
    seen: set[int] = set()

    async def on_promoted(event: ev.ModelPromoted, envelope: Envelope) -> None:
        await consumer.publisher.publish(ev.ModelDeployed(model_name="m", version=event.version), "m")
        seen.add(event.version)

    consumer.subscribe({ev.ModelPromoted: on_promoted}, group="downstream")
    await producer.start()
    await consumer.start()
    try:
        for version in range(1, 21):
            await producer.publisher.publish(ev.ModelPromoted(model_name="m", version=version), "m")
        private_broker.kill()
        await _until(lambda: "kafka broker unreachable" in consumer.problems(), 5, "readiness false")
        private_broker.start()
        await _until(lambda: consumer.problems() == [] and producer.problems() == [], 30, "both ready")
        for version in range(21, 31):
            await producer.publisher.publish(ev.ModelPromoted(model_name="m", version=version), "m")
        await _until(lambda: len(seen) == 30, 60, "every promotion handled")
    finally:
        await consumer.stop()
        await producer.stop()
    deployed = {ev.ModelDeployed.FromString(m.value).version for m in await _records(private_kafka, topics.DEPLOYMENTS)}
    assert deployed == set(range(1, 31))
    assert await _records(private_kafka, topics.DEAD_LETTER) == []


async def test_a_replay_reads_the_past_in_no_group_and_is_ready_once_caught_up(kafka_settings):
    settings = ServiceSettings(kafka=kafka_settings)
    upstream = EventRuntime(settings, source="registry", publishes=[ev.ModelPromoted])
    await upstream.start()
    for version in (1, 2, 3):
        await upstream.publisher.publish(ev.ModelPromoted(model_name="m", version=version), "m")
    seen: list[int] = []
    ready_at: list[int] = []

    async def on_promoted(event: ev.ModelPromoted, envelope: Envelope) -> None:
        seen.append(event.version)

    async def caught_up() -> None:
        ready_at.append(len(seen))

    for existing in (3, 4):  # a restart reads the same past again (nothing was committed), and one more
        seen.clear()
        replay = EventRuntime(settings, source="serving", publishes=[ev.ModelDeployed])
        replay.replay({ev.ModelPromoted: on_promoted}, name="serving", caught_up=caught_up)
        await replay.start()
        try:
            await _until(lambda: replay.problems() == [], 30, "replay caught up")  # noqa: B023
            assert seen == list(range(1, existing + 1)) and ready_at[-1] == existing  # ready after the past
            await upstream.publisher.publish(ev.ModelPromoted(model_name="m", version=existing + 1), "m")
            await _until(lambda: len(seen) == existing + 1, 30, "a live record after the replay")  # noqa: B023
        finally:
            await replay.stop()
    await upstream.stop()
    admin = AIOKafkaAdminClient(**kafka_settings.client_options())
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups()]
    finally:
        await admin.close()
    assert not [g for g in groups if g.startswith(kafka_settings.topic_prefix)], "a replay left a consumer group"
