"""Sorting records: well-formed events are kept, everything else is dead-lettered; all advance offsets."""

import dataclasses

from conveyor_audit.intake import sort_records
from conveyor_kernel import Record


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
