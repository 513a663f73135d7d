"""Consent records per subject and purpose, shaped after ISO/IEC TS 27560 (the W3C DPV consent record):
who (a pseudonymous subject), for what purpose, which state (given, withdrawn, expired, erased), on which
legal basis, collected how (source), when, until when.

Every change is published as ConsentChanged on conveyor.consent, keyed "<subject_ref>/<purpose>" on a
compacted topic, so the topic's retained records are the current state; then stored here. Publish first:
if the broker refuses, nothing is recorded and the caller retries (a retry republishes under the same key,
which compaction folds). A bulk change resolves every subject before publishing any: an unknown subject
refuses the whole request, so nothing is half-done.
"""

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Publisher, TransientError

from ..adapters.consent_db import ConsentRecord, ConsentStore
from ..adapters.vault import SubjectVault

# DPV purposes a record may name; a dataset row is used for a purpose only with consent for it.
PURPOSES = ("training", "monitoring", "evaluation")
STATES = {"given": ev.CONSENT_STATE_GIVEN, "withdrawn": ev.CONSENT_STATE_WITHDRAWN,
          "expired": ev.CONSENT_STATE_EXPIRED, "erased": ev.CONSENT_STATE_ERASED}
_UPLOAD_NAMESPACE = uuid.UUID("0b6f3c52-8a1e-4b7e-9d2c-5a4f1e7c9b30")
_CONCURRENT = 500  # publishes in flight at once: a bulk withdrawal is batched by the producer, not awaited one by one


class SubjectUnknown(LookupError):
    def __init__(self, unknown: list[str]) -> None:
        shown = ", ".join(repr(s) for s in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        super().__init__(f"subject_id: no dataset holds the subject(s) {shown}; check the id (the subject id "
                         "column's value as uploaded), or upload the data first")
        self.unknown = unknown


class PurposeUnknown(ValueError):
    def __init__(self, purpose: str) -> None:
        super().__init__(f"purpose: {purpose!r} is not a purpose Conveyor processes; use one of {', '.join(PURPOSES)}")


class ConsentPublishFailed(TransientError):  # noqa: N818
    """The broker did not take the change; nothing was recorded: retry."""


@dataclass(frozen=True)
class Change:
    purpose: str
    state: str
    basis: str = "consent"
    source: str = "rest"
    expires_at_ms: int = 0


@dataclass
class ConsentBook:
    store: ConsentStore
    vault: SubjectVault
    publisher: Publisher

    def refs_of(self, subject_ids: Iterable[str]) -> dict[str, str]:
        """raw id -> reference; SubjectUnknown names every id the vault does not hold."""
        wanted = list(dict.fromkeys(subject_ids))
        found = self.vault.resolve_many(wanted)
        unknown = [s for s in wanted if s not in found]
        if unknown:
            raise SubjectUnknown(unknown)
        return found

    async def change(self, subject_ids: list[str], change: Change, recorded_by: str) -> list[ConsentRecord]:
        if change.purpose not in PURPOSES:
            raise PurposeUnknown(change.purpose)
        refs = await asyncio.to_thread(self.refs_of, subject_ids)
        now = int(time.time() * 1000)
        records = [ConsentRecord(uuid.uuid4().hex, ref, change.purpose, change.state, change.basis, change.source,
                                 now, change.expires_at_ms, "", recorded_by) for ref in refs.values()]
        await self.publish(records)
        await asyncio.to_thread(self.store.add, records)
        return records

    async def given_with_upload(self, dataset_id: str, refs: Iterable[str], basis: str) -> int:
        """An upload asserts a basis for its subjects: each one without a training record gets a `given` record
        (the same record id when the upload is retried)."""
        refs = list(refs)
        known = await asyncio.to_thread(self.store.with_records, refs, "training")
        now = int(time.time() * 1000)
        records = [ConsentRecord(uuid.uuid5(_UPLOAD_NAMESPACE, f"{dataset_id}/{ref}").hex, ref, "training", "given",
                                 basis, "dataset upload", now, 0, dataset_id, "") for ref in refs if ref not in known]
        await self.publish(records)
        return await asyncio.to_thread(self.store.add, records)

    async def record_erased(self, subject_ref: str, recorded_by: str) -> None:
        now = int(time.time() * 1000)
        records = [ConsentRecord(uuid.uuid4().hex, subject_ref, purpose, "erased", "", "erasure", now, 0, "",
                                 recorded_by) for purpose in PURPOSES]
        await self.publish(records)
        await asyncio.to_thread(self.store.add, records)

    async def publish(self, records: list[ConsentRecord]) -> None:
        try:
            for start in range(0, len(records), _CONCURRENT):
                await asyncio.gather(*(self.publisher.publish(event_of(r), subject=f"{r.subject_ref}/{r.purpose}")
                                       for r in records[start:start + _CONCURRENT]))
        except TransientError as exc:
            raise ConsentPublishFailed(f"the event bus is unavailable, nothing was recorded; retry ({exc})") from exc


def event_of(record: ConsentRecord) -> ev.ConsentChanged:
    return ev.ConsentChanged(
        record_id=record.record_id, subject_ref=record.subject_ref, purpose=record.purpose,
        state=STATES[record.state], basis=record.basis, source=record.source, recorded_at_ms=record.recorded_at_ms,
        expires_at_ms=record.expires_at_ms, dataset_id=record.dataset_id)
