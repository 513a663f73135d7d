"""The ledger's leaf encoding: how one Kafka record becomes the bytes that are hashed.

Anyone holding an event (its CloudEvents attributes and the protobuf value bytes exactly as they
crossed Kafka) can recompute its leaf:

    leaf_bytes = UTF-8 of the canonical JSON of
        {"specversion": "1.0", "id": ce_id, "source": ce_source, "type": ce_type,
         "subject": ce_subject, "time": ce_time, "datacontenttype": "application/protobuf",
         "data_base64": standard base64 (RFC 4648 §4, padded) of the record value bytes}
    canonical JSON = keys sorted, separators "," and ":" with no whitespace, non-ASCII kept as UTF-8
                     (Python: json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    leaf_hash  = SHA-256(0x00 || leaf_bytes)                 RFC 9162 §2.1.1
    chain_hash = SHA-256(chain_hash[i-1] || leaf_hash[i]),   chain_hash[-1] = 32 zero bytes

The value bytes are kept as received (not re-serialised), so the hash commits to exactly what
producers published, unknown fields included. The CloudEvents JSON shape makes the leaf readable
with off-the-shelf tooling.
"""

import base64
import binascii
import hashlib
import json
from typing import Any, Protocol

import orjson
from google.protobuf.json_format import MessageToDict

from conveyor_kernel import Envelope, decode_event

from .merkle import hash_leaf

# The kernel only accepts CloudEvents 1.0 with protobuf content, so every envelope the ledger sees has
# these two. Bound once here: leaf_document runs for every event appended.
_SPEC_VERSION, _CONTENT_TYPE = Envelope.SPEC_VERSION, Envelope.CONTENT_TYPE
CHAIN_SEED = bytes(32)


class Attributes(Protocol):
    """The CloudEvents attributes a leaf is made of: an Envelope has them, so does a ledger Pending."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def time(self) -> str: ...


def leaf_document(event: Attributes, value: bytes) -> dict[str, str]:
    """The leaf's JSON object, its keys already in sorted (canonical) order."""
    return {
        "data_base64": binascii.b2a_base64(value, newline=False).decode("ascii"),  # = base64.b64encode
        "datacontenttype": _CONTENT_TYPE,
        "id": event.id,
        "source": event.source,
        "specversion": _SPEC_VERSION,
        "subject": event.subject,
        "time": event.time,
        "type": event.type,
    }


def encode_leaf(event: Attributes, value: bytes) -> bytes:
    # orjson writes exactly the canonical form above for a flat object of strings whose keys are
    # inserted in sorted order (test_audit_leaf pins it against json.dumps), several times faster
    # than json on the append path.
    return orjson.dumps(leaf_document(event, value))


def leaf_hash_of(leaf_bytes: bytes) -> bytes:
    return hash_leaf(leaf_bytes)


def next_chain(previous: bytes, leaf_hash: bytes) -> bytes:
    return hashlib.sha256(previous + leaf_hash).digest()


def parse_leaf(leaf_bytes: bytes) -> dict[str, str]:
    """The leaf's JSON document; raises ValueError if the bytes are not one."""
    document = json.loads(leaf_bytes.decode("utf-8"))
    if not isinstance(document, dict):
        raise ValueError("leaf is not a JSON object")
    return document


def event_as_dict(leaf_bytes: bytes) -> dict[str, Any]:
    """The protobuf event inside a leaf, as JSON-ready data (proto field names)."""
    document = parse_leaf(leaf_bytes)
    envelope = Envelope(
        type=document["type"], source=document["source"], subject=document["subject"], id=document["id"]
    )
    message = decode_event(envelope, base64.b64decode(document["data_base64"], validate=True))
    return MessageToDict(message, preserving_proto_field_name=True)
