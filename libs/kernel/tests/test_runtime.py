"""EventRuntime: topics derive from the handler table, publishes must be declared, one readiness view."""

import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ConfigurationError, EventRuntime, KafkaSettings, ServiceSettings, topics
from conveyor_kernel.memory import InMemoryBus


async def _noop(event, envelope) -> None:
    return None


def test_subscribed_topics_derive_from_the_handler_table():
    runtime = EventRuntime(ServiceSettings(kafka=KafkaSettings(topic_prefix="p.")), source="s")
    runtime.subscribe({ev.ModelPromoted: _noop, ev.TrafficSplitSet: _noop, ev.DatasetArrived: _noop}, group="g")
    assert runtime.subscribed == (topics.DATASETS, topics.REGISTRY)
    [loop] = runtime.consumers
    assert sorted(loop.topics) == ["p." + topics.DATASETS, "p." + topics.REGISTRY]
    assert loop.group == "p.g"


def test_needed_topics_cover_what_is_published_consumed_and_dead_lettered():
    runtime = EventRuntime(ServiceSettings(), source="s", publishes=[ev.ModelTrained])
    runtime.subscribe({ev.RetrainRequested: _noop}, group="g")
    # ModelTrained is a lineage fact: its OpenLineage run event goes to conveyor.openlineage
    assert runtime.needed_topics() == sorted([topics.MODELS, topics.RETRAIN, topics.DEAD_LETTER, topics.OPENLINEAGE])


async def test_publishing_an_undeclared_event_is_a_configuration_error():
    bus = InMemoryBus()
    runtime = EventRuntime(ServiceSettings(), source="ingest", publishes=[ev.DatasetArrived], transport=bus)
    await runtime.publisher.publish(ev.DatasetArrived(dataset_id="d"), "d")
    with pytest.raises(ConfigurationError, match="ModelTrained without declaring it"):
        await runtime.publisher.publish(ev.ModelTrained(model_name="m"), "m")
    assert [r.topic for r in bus.records] == [topics.DATASETS]


async def test_subscribing_after_start_is_refused_and_readiness_follows_the_lifecycle():
    runtime = EventRuntime(ServiceSettings(), source="s", transport=InMemoryBus())
    assert runtime.problems() == ["event runtime"]
    await runtime.start()
    assert runtime.problems() == []
    with pytest.raises(ConfigurationError):
        runtime.subscribe({ev.ModelTrained: _noop}, group="late")


async def test_deliver_plays_each_subscription_once_and_resumes_where_it_stopped():
    bus = InMemoryBus()
    runtime = EventRuntime(ServiceSettings(), source="s", publishes=[ev.ModelTrained], transport=bus)
    seen: list[str] = []

    async def on_trained(event, envelope) -> None:
        seen.append(event.model_name)

    runtime.subscribe({ev.ModelTrained: on_trained}, group="g")
    await runtime.start()
    await runtime.publisher.publish(ev.ModelTrained(model_name="a"), "a")
    await runtime.deliver()
    await runtime.publisher.publish(ev.ModelTrained(model_name="b"), "b")
    await runtime.deliver()
    assert seen == ["a", "b"]


async def test_deliver_is_only_for_the_in_memory_transport():
    with pytest.raises(ConfigurationError):
        await EventRuntime(ServiceSettings(), source="s").deliver()
