"""Sorting records: well-formed events are kept, everything else is dead-lettered; all advance offsets.

How headers are read is the kernel's envelope parser: test_audit_envelope_fields."""

import dataclasses

from confluent_kafka import Message

from conveyor_audit.intake import sort_messages, sort_records
from conveyor_kernel import Record


def test_garbage_goes_to_dead_letter_and_every_offset_advances(make, runtime) -> None:
    good = [make.record(event, subject, offset=i) for i, (event, subject) in enumerate(make.events()[:2])]
    no_headers = Record("conveyor.datasets", b"k", b"junk", [], 0, 7)
    bad_value = dataclasses.replace(good[0], value=b"\xff\xff\xff", offset=8)
    batch = sort_records([*good, no_headers, bad_value], runtime.dead_letters)
    assert [p.envelope.id for p in batch.pending] == [dict(r.headers)["ce_id"].decode() for r in good]
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in batch.dead]
    assert "missing CloudEvents header" in reasons[0]
    assert "not a valid conveyor.events.v1.DatasetArrived" in reasons[1]
    assert all(dict(r.headers)["dlq_group"] == b"audit" for r in batch.dead)
    assert batch.next_offsets == {("conveyor.datasets", 0): 9, ("conveyor.models", 0): 2}


def test_kafka_messages_are_sorted_like_records(make, runtime) -> None:
    good = make.record(*make.events()[0], offset=3)
    messages = [
        Message(topic=good.topic, partition=good.partition, offset=3, key=good.key, value=good.value,
                headers=list(good.headers)),
        Message(topic=good.topic, partition=good.partition, offset=4, key=b"k", value=b"junk",
                headers=[("ce_id", b"x")]),
    ]
    batch = sort_messages(messages, runtime.dead_letters)
    assert [p.envelope.id for p in batch.pending] == [dict(good.headers)["ce_id"].decode()]
    assert batch.pending[0].value == good.value
    (dead,) = batch.dead
    assert (dead.key, dead.value, dict(dead.headers)["dlq_offset"]) == (b"k", b"junk", b"4")
    assert "missing CloudEvents header" in dict(dead.headers)["dlq_reason"].decode()
    assert batch.next_offsets == {(good.topic, good.partition): 5}
