import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, InvalidMessage, KafkaSettings, decode_event, topics
from conveyor_kernel.memory import build_record


def test_record_carries_the_cloudevents_kafka_binary_binding():
    event = ev.DatasetArrived(dataset_id="abc", name="cancer", row_count=3)
    record, envelope = build_record(event, subject="abc", source="ingest")
    headers = dict(record.headers)
    assert record.topic == topics.DATASETS
    assert record.key == b"abc"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"conveyor.events.v1.DatasetArrived"
    assert headers["ce_source"] == b"ingest"
    assert headers["ce_subject"] == b"abc"
    assert headers["ce_id"] == envelope.id.encode()
    assert headers["content-type"] == Envelope.CONTENT_TYPE.encode()
    assert headers["ce_time"].decode().endswith("+00:00")
    decoded = decode_event(Envelope.from_headers(record.headers), record.value)
    assert decoded == event


def test_topic_prefix_isolates_topics():
    record, _ = build_record(ev.ModelDeployed(model_name="m"), subject="m", source="s", prefix="t1.")
    assert record.topic == "t1." + topics.DEPLOYMENTS
    kafka = KafkaSettings(topic_prefix="t1.")
    assert kafka.topic(ev.ModelDeployed) == kafka.topic(topics.DEPLOYMENTS) == record.topic
    assert kafka.group("registry") == "t1.registry"


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ([("ce_type", b"x"), ("ce_source", b"s")], "ce_id"),
        ([("ce_id", b"1"), ("ce_type", b"x"), ("ce_source", b"s"), ("ce_specversion", b"0.3")], "specversion"),
        ([("ce_id", b"1"), ("ce_type", b"x"), ("ce_source", b"s"), ("content-type", b"application/json")],
         "content-type"),
        ([("ce_id", b"\xff"), ("ce_type", b"x"), ("ce_source", b"s")], "UTF-8"),
    ],
)
def test_bad_envelopes_are_rejected_with_a_reason(headers, problem):
    with pytest.raises(InvalidMessage, match=problem):
        Envelope.from_headers(headers)


def test_unknown_type_and_garbage_values_are_invalid():
    envelope = Envelope(type="conveyor.events.v1.Nope", source="s", subject="x")
    with pytest.raises(InvalidMessage, match="unknown event type"):
        decode_event(envelope, b"")
    envelope = Envelope(type="conveyor.events.v1.DatasetArrived", source="s", subject="x")
    with pytest.raises(InvalidMessage, match="not a valid"):
        decode_event(envelope, b"\xff\xff\xff\xff")
    with pytest.raises(InvalidMessage, match="no value"):
        decode_event(envelope, None)


def test_event_ids_are_uuid7_and_sort_by_creation_time() -> None:
    import time
    import uuid

    from conveyor_kernel import new_event_id

    before = time.time_ns() // 1_000_000
    first = new_event_id()
    time.sleep(0.002)
    second = new_event_id()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(first)
    assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert before <= parsed.int >> 80 <= after  # the leading 48 bits are Unix milliseconds
    assert first < second  # text order is time order: what keeps an index on ids appending at one end
    assert len({new_event_id() for _ in range(1000)}) == 1000
    assert Envelope(type="t", source="s", subject="x").id[14] == "7"
