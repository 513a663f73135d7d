"""The CloudEvents Kafka binary binding: attributes in headers, protobuf bytes in the value.

One parser for every consumer: the kernel's dispatcher and the audit ledger's intake both read headers
with `envelope_fields`, so the rules (and the reasons a record is refused) cannot drift apart.
"""

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, NamedTuple, Protocol

from google.protobuf.message import DecodeError, Message

from ._errors import InvalidMessage
from .topics import EVENT_TYPES

CONTENT_TYPE = "application/protobuf"
SPEC_VERSION = "1.0"
_SPEC_VERSION_BYTES, _CONTENT_TYPE_BYTES = SPEC_VERSION.encode(), CONTENT_TYPE.encode()
# The headers an envelope is made of; any other header is only checked to be UTF-8.
_ENVELOPE_HEADERS = frozenset(
    ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type",
     "traceparent", "tracestate")
)

Headers = list[tuple[str, bytes]]
_48_BITS, _62_BITS = (1 << 48) - 1, (1 << 62) - 1


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, version 7, 12 + 62 random bits.

    Ids made later sort later, so an index on them grows at its right edge: the audit ledger's
    duplicate check (a unique index on event ids) rewrites a few pages per batch instead of one per
    event, as random (v4) ids made it.
    """
    random = int.from_bytes(os.urandom(10), "big")
    value = ((time.time_ns() // 1_000_000) & _48_BITS) << 80 | 7 << 76 | (random >> 68) << 64 \
        | 0b10 << 62 | random & _62_BITS
    return str(uuid.UUID(int=value))


class EnvelopeFields(NamedTuple):
    """An envelope's attributes as plain strings: what a hot path keeps instead of an Envelope."""

    id: str
    type: str
    source: str
    subject: str
    time: str
    traceparent: str
    tracestate: str


def envelope_fields(headers: Sequence[tuple[str, bytes | None]]) -> EnvelopeFields:
    """Read and check the CloudEvents headers, or raise InvalidMessage naming what is wrong.

    The headers become a dict in C and only the envelope's own are decoded. Any other header (or a
    repeated one) sends the record down the slow path that decodes every value, so a non-UTF-8 header
    is refused wherever it is. A header without a value counts as empty (a missing ce_id, not a crash).
    """
    raw = dict(headers)
    get = raw.get
    try:
        if len(raw) != len(headers) or not raw.keys() <= _ENVELOPE_HEADERS:
            for _, value in headers:
                if value is not None:
                    value.decode()
        ce_id, ce_type, ce_source = (get("ce_id") or b"").decode(), (get("ce_type") or b"").decode(), \
            (get("ce_source") or b"").decode()
        if not (ce_id and ce_type and ce_source):
            missing = [k for k, v in (("ce_id", ce_id), ("ce_type", ce_type), ("ce_source", ce_source)) if not v]
            raise InvalidMessage(f"missing CloudEvents header(s): {', '.join(missing)}")
        spec = get("ce_specversion")
        if spec is not None and spec != _SPEC_VERSION_BYTES:
            raise InvalidMessage(f"unsupported ce_specversion {spec.decode()!r}")
        content_type = get("content-type")
        if content_type is not None and content_type != _CONTENT_TYPE_BYTES:
            raise InvalidMessage(f"unsupported content-type {content_type.decode()!r}, expected {CONTENT_TYPE}")
        return EnvelopeFields(ce_id, ce_type, ce_source, (get("ce_subject") or b"").decode(),
                              (get("ce_time") or b"").decode(), (get("traceparent") or b"").decode(),
                              (get("tracestate") or b"").decode())
    except UnicodeDecodeError as exc:
        raise InvalidMessage(f"a header is not UTF-8: {exc}") from exc


@dataclass(frozen=True)
class Envelope:
    """The CloudEvents attributes of one event. Only version 1.0 and protobuf content are spoken."""

    SPEC_VERSION: ClassVar[str] = SPEC_VERSION
    CONTENT_TYPE: ClassVar[str] = CONTENT_TYPE

    type: str
    source: str
    subject: str
    id: str = field(default_factory=new_event_id)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))
    traceparent: str = ""
    tracestate: str = ""

    def to_headers(self) -> Headers:
        headers = [
            ("ce_specversion", _SPEC_VERSION_BYTES),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.encode()),
            ("ce_subject", self.subject.encode()),
            ("content-type", _CONTENT_TYPE_BYTES),
        ]
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        if self.tracestate:
            headers.append(("tracestate", self.tracestate.encode()))
        return headers

    @classmethod
    def from_headers(cls, headers: Sequence[tuple[str, bytes | None]]) -> "Envelope":
        return cls.of(envelope_fields(headers))

    # For a hot path that keeps the attributes as plain strings (the audit ledger): no Envelope is built.
    read_fields = staticmethod(envelope_fields)

    @classmethod
    def of(cls, fields: EnvelopeFields) -> "Envelope":
        return cls(type=fields.type, source=fields.source, subject=fields.subject, id=fields.id,
                   time=fields.time, traceparent=fields.traceparent, tracestate=fields.tracestate)


class Typed(Protocol):
    """Anything that names a CloudEvents type: an Envelope, or a service's own lighter record of one."""

    @property
    def type(self) -> str: ...


def decode_event(envelope: Typed, value: bytes | None) -> Message:
    """Parse the value as the protobuf message its ce_type names, or raise InvalidMessage."""
    message_cls = EVENT_TYPES.get(envelope.type)
    if message_cls is None:
        raise InvalidMessage(f"unknown event type {envelope.type!r}")
    if value is None:
        raise InvalidMessage("record has no value")
    message = message_cls()
    try:
        message.ParseFromString(value)
    except DecodeError as exc:
        raise InvalidMessage(f"value is not a valid {envelope.type}: {exc}") from exc
    return message
