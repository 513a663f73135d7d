"""Sorting records: well-formed events are kept, everything else is dead-lettered; all advance offsets."""

import dataclasses

import pytest
from confluent_kafka import Message

from conveyor_audit.adapters.rows import Pending
from conveyor_audit.intake import attributes_of, sort_messages, sort_records
from conveyor_kernel import Envelope, InvalidMessage, Record


def test_garbage_goes_to_dead_letter_and_every_offset_advances(make) -> None:
    good = [make.record(event, subject, offset=i) for i, (event, subject) in enumerate(make.events()[:2])]
    no_headers = Record("conveyor.datasets", b"k", b"junk", [], 0, 7)
    bad_value = dataclasses.replace(good[0], value=b"\xff\xff\xff", offset=8)
    batch = sort_records([*good, no_headers, bad_value])
    assert [p.envelope.id for p in batch.pending] == [dict(r.headers)["ce_id"].decode() for r in good]
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in batch.dead]
    assert "missing CloudEvents header" in reasons[0]
    assert "not a valid conveyor.events.v1.DatasetArrived" in reasons[1]
    assert all(dict(r.headers)["dlq_group"] == b"audit" for r in batch.dead)
    assert batch.next_offsets == {("conveyor.datasets", 0): 9, ("conveyor.models", 0): 2}


GOOD = [("ce_specversion", b"1.0"), ("ce_id", b"e-1"), ("ce_source", b"ingest"),
        ("ce_type", b"conveyor.events.v1.DatasetArrived"), ("ce_time", b"2025-01-01T00:00:00+00:00"),
        ("ce_subject", b"d\xc3\xa9"), ("content-type", b"application/protobuf"),
        ("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]


@pytest.mark.parametrize("headers", [
    GOOD,
    GOOD[1:4],                                                   # optional headers absent
    [*GOOD, ("x-extra", b"ascii")],                              # foreign header, fine
    [*GOOD, ("x-extra", "é".encode())],                          # foreign header, UTF-8 but not ASCII
    [*GOOD, ("x-extra", b"\xff")],                               # foreign header, not UTF-8
    [*GOOD[:1], ("ce_id", b"\xfe"), *GOOD[2:]],                  # envelope header, not UTF-8
    [("ce_id", b"\xff"), *GOOD],                                 # repeated header, first one bad
    [*GOOD, ("ce_id", b"e-2")],                                  # repeated header: the last one counts
    [h for h in GOOD if h[0] != "ce_type"],
    [h for h in GOOD if h[0] not in ("ce_id", "ce_source")],
    [(k, b"" if k == "ce_source" else v) for k, v in GOOD],      # empty counts as missing
    [(k, b"0.3" if k == "ce_specversion" else v) for k, v in GOOD],
    [(k, b"" if k == "ce_specversion" else v) for k, v in GOOD],
    [(k, b"application/json" if k == "content-type" else v) for k, v in GOOD],
    [],
])
def test_fast_envelope_parse_agrees_with_the_kernel(headers) -> None:
    """attributes_of is the ledger's hot-path copy of Envelope.from_headers: same envelope or same refusal."""
    try:
        expected: object = Envelope.from_headers(headers)
    except InvalidMessage as exc:
        expected = str(exc)
    try:
        got: object = envelope_of(headers)
    except InvalidMessage as exc:
        got = str(exc)
    assert got == expected


def envelope_of(headers: list) -> Envelope:
    return Pending(*attributes_of(headers), b"", "topic", 0, 0).envelope


def test_a_header_without_value_is_empty_not_a_crash() -> None:
    with pytest.raises(InvalidMessage, match="missing CloudEvents header.*ce_id"):
        envelope_of([(k, None if k == "ce_id" else v) for k, v in GOOD])
    assert envelope_of([*GOOD, ("x-null", None)]).id == "e-1"


def test_kafka_messages_are_sorted_like_records(make) -> None:
    good = make.record(*make.events()[0], offset=3)
    messages = [
        Message(topic=good.topic, partition=good.partition, offset=3, key=good.key, value=good.value,
                headers=list(good.headers)),
        Message(topic=good.topic, partition=good.partition, offset=4, key=b"k", value=b"junk",
                headers=[("ce_id", b"x")]),
    ]
    batch = sort_messages(messages)
    assert [p.envelope.id for p in batch.pending] == [dict(good.headers)["ce_id"].decode()]
    assert batch.pending[0].value == good.value
    (dead,) = batch.dead
    assert (dead.key, dead.value, dict(dead.headers)["dlq_offset"]) == (b"k", b"junk", b"4")
    assert "missing CloudEvents header" in dict(dead.headers)["dlq_reason"].decode()
    assert batch.next_offsets == {(good.topic, good.partition): 5}
