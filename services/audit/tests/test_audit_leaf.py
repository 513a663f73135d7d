"""The leaf encoding is a published format: pin it byte for byte."""

import base64
import hashlib
import json

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.leaf import encode_leaf, event_as_dict, leaf_hash_of, next_chain
from conveyor_kernel import Envelope

ENVELOPE = Envelope(
    type="conveyor.events.v1.ModelPromoted", source="registry", subject="créditø", id="e-1",
    time="2025-01-02T03:04:05.000006+00:00", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
)
VALUE = ev.ModelPromoted(model_name="créditø", version=3, reasons=["auc up"]).SerializeToString()


def test_leaf_is_canonical_cloudevents_json() -> None:
    expected = (
        '{"data_base64":"' + base64.b64encode(VALUE).decode() + '","datacontenttype":"application/protobuf",'
        '"id":"e-1","source":"registry","specversion":"1.0","subject":"créditø",'
        '"time":"2025-01-02T03:04:05.000006+00:00","type":"conveyor.events.v1.ModelPromoted"}'
    ).encode("utf-8")
    assert encode_leaf(ENVELOPE, VALUE) == expected


def test_leaf_ignores_trace_context_and_is_deterministic() -> None:
    untraced = Envelope(type=ENVELOPE.type, source=ENVELOPE.source, subject=ENVELOPE.subject,
                        id=ENVELOPE.id, time=ENVELOPE.time)
    assert encode_leaf(untraced, VALUE) == encode_leaf(ENVELOPE, VALUE)
    reparsed = json.loads(encode_leaf(ENVELOPE, VALUE))
    again = json.dumps(dict(reversed(list(reparsed.items()))), sort_keys=True, separators=(",", ":"),
                       ensure_ascii=False).encode()
    assert again == encode_leaf(ENVELOPE, VALUE)


def test_leaf_and_chain_hashes_follow_rfc_9162_prefixes() -> None:
    leaf = encode_leaf(ENVELOPE, VALUE)
    assert leaf_hash_of(leaf) == hashlib.sha256(b"\x00" + leaf).digest()
    assert next_chain(bytes(32), leaf_hash_of(leaf)) == hashlib.sha256(bytes(32) + leaf_hash_of(leaf)).digest()


def test_event_decodes_back_from_the_leaf() -> None:
    assert event_as_dict(encode_leaf(ENVELOPE, VALUE)) == {
        "model_name": "créditø", "version": "3", "reasons": ["auc up"],
    }


def test_leaf_bytes_are_exactly_the_documented_json_dumps_form_for_awkward_strings() -> None:
    import json

    from conveyor_audit.leaf import encode_leaf, leaf_document

    awkward = 'quote " backslash \\ slash / tab \t nl \n ctrl \x01\x1f del \x7f é 漢 \u2028 emoji 🙂'
    envelope = Envelope(type="conveyor.events.v1.ModelDeployed", source=awkward, subject=awkward, id=awkward,
                        time="2026-11-26T00:00:00.000000+00:00")
    value = bytes(range(256))
    documented = json.dumps(leaf_document(envelope, value), sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False).encode("utf-8")
    assert encode_leaf(envelope, value) == documented
