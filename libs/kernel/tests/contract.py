"""One contract for both buses: every transport must pass these (see test_bus_memory / test_bus_kafka).

Both run through EventRuntime, the way every service uses the bus. A transport fixture yields an object with:
    publish(event, subject) -> Envelope
    send_raw(Record)                  put arbitrary bytes on a topic
    consume(handlers, topics, count)  run a consumer until `count` records on `topics` were handled
    dead_letters() -> list[Record]
"""

import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, InvalidMessage, Record, TransientError, topics

PUBLISHES = (ev.ModelDeployed, ev.DatasetRejected, ev.DatasetArrived)


class BusContract:
    async def test_published_events_reach_their_handler_in_order(self, bus):
        for i in range(5):
            await bus.publish(ev.ModelDeployed(model_name="m", version=i + 1), subject="m")
        seen: list[int] = []

        async def on_deployed(event: ev.ModelDeployed, envelope: Envelope) -> None:
            assert envelope.subject == "m"
            seen.append(event.version)

        await bus.consume({ev.ModelDeployed: on_deployed}, [topics.DEPLOYMENTS], count=5)
        assert seen == [1, 2, 3, 4, 5]
        assert await bus.dead_letters() == []

    async def test_undecodable_record_goes_to_dead_letter_and_the_stream_continues(self, bus):
        headers = Envelope(type="conveyor.events.v1.ModelDeployed", source="x", subject="m").to_headers()
        await bus.send_raw(Record(bus.topic(topics.DEPLOYMENTS), b"m", b"\xff\xff\xff", headers))
        await bus.publish(ev.ModelDeployed(model_name="m", version=7), subject="m")
        seen: list[int] = []

        async def on_deployed(event: ev.ModelDeployed, envelope: Envelope) -> None:
            seen.append(event.version)

        await bus.consume({ev.ModelDeployed: on_deployed}, [topics.DEPLOYMENTS], count=2)
        assert seen == [7]
        [dead] = await bus.dead_letters()
        reasons = dict(dead.headers)
        assert b"not a valid" in reasons["dlq_reason"]
        assert reasons["dlq_topic"] == bus.topic(topics.DEPLOYMENTS).encode()
        assert dead.value == b"\xff\xff\xff"

    async def test_record_without_envelope_is_dead_lettered(self, bus):
        await bus.send_raw(Record(bus.topic(topics.DEPLOYMENTS), b"m", b"hello", []))
        await bus.consume({ev.ModelDeployed: _ignore}, [topics.DEPLOYMENTS], count=1)
        [dead] = await bus.dead_letters()
        assert b"missing CloudEvents header" in dict(dead.headers)["dlq_reason"]

    async def test_invalid_message_from_handler_is_dead_lettered_with_its_reason(self, bus):
        await bus.publish(ev.ModelDeployed(model_name="m", version=1), subject="m")

        async def refuse(event, envelope):
            raise InvalidMessage("version 1 is not allowed")

        await bus.consume({ev.ModelDeployed: refuse}, [topics.DEPLOYMENTS], count=1)
        [dead] = await bus.dead_letters()
        assert dict(dead.headers)["dlq_reason"] == b"version 1 is not allowed"

    async def test_transient_failures_are_retried_then_succeed(self, bus):
        await bus.publish(ev.ModelDeployed(model_name="m", version=1), subject="m")
        attempts = []

        async def flaky(event, envelope):
            attempts.append(1)
            if len(attempts) < 2:
                raise TransientError("disk busy")

        await bus.consume({ev.ModelDeployed: flaky}, [topics.DEPLOYMENTS], count=1)
        assert len(attempts) == 2
        assert await bus.dead_letters() == []

    async def test_transient_failures_give_up_after_the_bound(self, bus):
        await bus.publish(ev.ModelDeployed(model_name="m", version=1), subject="m")
        attempts = []

        async def broken(event, envelope):
            attempts.append(1)
            raise TransientError("peer down")

        await bus.consume({ev.ModelDeployed: broken}, [topics.DEPLOYMENTS], count=1)
        assert len(attempts) == 2  # max_retries=1 in the test settings
        [dead] = await bus.dead_letters()
        assert dict(dead.headers)["dlq_reason"].startswith(b"gave up after 2 attempts")

    async def test_events_for_other_consumers_are_skipped(self, bus):
        await bus.publish(ev.DatasetRejected(name="x"), subject="x")
        await bus.publish(ev.DatasetArrived(dataset_id="d"), subject="d")
        seen = []

        async def on_arrived(event, envelope):
            seen.append(event.dataset_id)

        await bus.consume({ev.DatasetArrived: on_arrived}, [topics.DATASETS], count=2)
        assert seen == ["d"]
        assert await bus.dead_letters() == []

    async def test_an_unknown_type_and_a_type_on_the_wrong_topic_are_dead_lettered(self, bus):
        """Finding 7: the registry skipped them silently. Either hides a broken or hostile producer."""
        unknown = Envelope(type="conveyor.events.v1.ModelBaked", source="x", subject="m").to_headers()
        await bus.send_raw(Record(bus.topic(topics.DATASETS), b"m", b"", unknown))
        misplaced = Envelope(type="conveyor.events.v1.ModelPromoted", source="x", subject="m").to_headers()
        await bus.send_raw(Record(bus.topic(topics.DATASETS), b"m", ev.ModelPromoted().SerializeToString(),
                                  misplaced))
        await bus.consume({ev.DatasetArrived: _ignore}, [topics.DATASETS], count=2)
        reasons = [dict(d.headers)["dlq_reason"].decode() for d in await bus.dead_letters()]
        assert reasons[0] == "unknown event type 'conveyor.events.v1.ModelBaked': no contract in " \
                             "conveyor.events.v1 has it"
        assert reasons[1] == (f"conveyor.events.v1.ModelPromoted belongs on {bus.topic(topics.REGISTRY)}, "
                              f"not on {bus.topic(topics.DATASETS)}")


async def _ignore(event, envelope):
    pytest.fail("handler must not run for an invalid record")
