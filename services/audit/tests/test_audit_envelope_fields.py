"""The kernel's hot-path envelope parser, as the ledger's intake uses it: the same envelope as
Envelope.from_headers, or the same refusal, and the attributes land in the right Pending fields."""

import pytest

from conveyor_audit.adapters.rows import Pending
from conveyor_kernel import Envelope, InvalidMessage

envelope_fields = Envelope.read_fields

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
    """envelope_fields is the ledger's hot-path reading of Envelope.from_headers: same envelope or same refusal."""
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
    return Pending(*envelope_fields(headers), b"", "topic", 0, 0).envelope


def test_a_header_without_value_is_empty_not_a_crash() -> None:
    with pytest.raises(InvalidMessage, match="missing CloudEvents header.*ce_id"):
        envelope_of([(k, None if k == "ce_id" else v) for k, v in GOOD])
    assert envelope_of([*GOOD, ("x-null", None)]).id == "e-1"


def test_a_pending_starts_with_the_envelope_fields_in_their_order() -> None:
    """intake builds a Pending by extending the parser's tuple, so the two field orders must agree."""
    fields = type(envelope_fields(Envelope(type="t", source="s", subject="x").to_headers()))._fields
    assert Pending._fields[:len(fields)] == fields
