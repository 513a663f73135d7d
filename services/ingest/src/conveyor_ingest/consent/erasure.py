"""Erasure (GDPR Art. 17): requested by the subject's controller, approved by a privacy officer, then run.

Running it, step by step, each step saved before the next starts so a crash resumes where it stopped:
1. every stored dataset version holding the subject's rows is rewritten without them: the new bytes are a new
   content-addressed version (same name and number), announced as DatasetErased, the catalog row swapped, and
   the old bytes and profile deleted;
2. the subject's consent becomes `erased` for every purpose (ConsentChanged, on the compacted topic);
3. the vault's mapping from the raw id to the reference is destroyed;
4. a receipt is issued (ErasureCompleted with its hash: the ledger records it, with no personal data).
The trainer reacts to DatasetErased: it flags the runs that learned from the subject and retrains them.
Nothing here ever holds the raw id: the request resolves it to the reference at once.
"""

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import ParseDict

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Principal, Publisher, TransientError

from .. import events
from ..adapters.catalog import Catalog, CatalogEntry
from ..adapters.consent_db import ConsentStore, Erasure
from ..profile import profile
from ..spec import DatasetSpec
from ..tabular import FORMATS, read_table
from .book import ConsentBook
from .pseudonyms import serialize

logger = logging.getLogger(__name__)


class ErasureNotFound(LookupError):
    pass


class ErasureForbidden(PermissionError):
    """403: not approved yet, or the requester approving their own request."""


class ErasureStopped(TransientError):  # noqa: N818 - names the outcome the client sees
    """A step could not finish (the broker refused an event): what is done stays done; run it again."""


@dataclass(frozen=True)
class Outcome:
    erasure: Erasure
    resumed: bool  # this call continued an erasure that had stopped part-way

    def public(self) -> dict[str, Any]:
        return {**public(self.erasure), "resumed": self.resumed}


def public(erasure: Erasure) -> dict[str, Any]:
    return {"erasure_id": erasure.erasure_id, "subject_ref": erasure.subject_ref, "reason": erasure.reason,
            "status": erasure.status, "requested_by": erasure.requested_by, "requested_at": erasure.requested_at,
            "approved_by": erasure.approved_by, "approved_at": erasure.approved_at,
            "steps_done": (erasure.progress or {}).get("steps", []), "receipt": erasure.receipt}


@dataclass
class Erasures:
    store: ConsentStore
    book: ConsentBook
    catalog: Catalog
    artifacts: ArtifactStore
    publisher: Publisher

    async def request(self, subject_id: str, reason: str, principal: Principal) -> Erasure:
        ref = (await asyncio.to_thread(self.book.refs_of, [subject_id]))[subject_id]
        existing = await asyncio.to_thread(self.store.open_erasure_of, ref)
        if existing is not None:
            return existing
        erasure = Erasure(uuid.uuid4().hex, ref, reason, principal.subject, _now(), "requested")
        await asyncio.to_thread(self.store.add_erasure, erasure)
        logger.info("erasure %s requested by %s", erasure.erasure_id, principal.subject)
        return erasure

    async def get(self, erasure_id: str) -> Erasure:
        erasure = await asyncio.to_thread(self.store.erasure, erasure_id)
        if erasure is None:
            raise ErasureNotFound(f"erasure_id: no erasure {erasure_id!r}; POST /erasures requests one")
        return erasure

    async def approve(self, erasure_id: str, principal: Principal) -> Outcome:
        erasure = await self.get(erasure_id)
        if erasure.status == "requested":
            if principal.subject == erasure.requested_by:
                raise ErasureForbidden(f"{principal.subject} requested erasure {erasure_id}; another privacy "
                                       "officer must approve it (separation of duties)")
            erasure.status, erasure.approved_by, erasure.approved_at = "approved", principal.subject, _now()
            await asyncio.to_thread(self.store.save_erasure, erasure)
        return await self.run(erasure_id)

    async def run(self, erasure_id: str) -> Outcome:
        """Carry out an approved erasure, or continue one that stopped; a completed one answers as it is."""
        erasure = await self.get(erasure_id)
        if erasure.status == "requested":
            raise ErasureForbidden(f"erasure {erasure_id} is not approved: a privacy officer approves it with "
                                   f"POST /erasures/{erasure_id}/approve, which also runs it")
        if erasure.status == "completed":
            return Outcome(erasure, resumed=False)
        resumed = erasure.status == "running"
        erasure.status = "running"
        progress = erasure.progress = erasure.progress or {}
        progress.setdefault("steps", [])
        progress.setdefault("replaced", {})
        progress.setdefault("rows_removed", 0)
        await asyncio.to_thread(self.store.save_erasure, erasure)
        try:
            for old_id in await asyncio.to_thread(self.store.datasets_of, erasure.subject_ref):
                await self._rewrite(erasure, old_id)
            await self._step(erasure, "consent erased", lambda: self.book.record_erased(erasure.subject_ref,
                                                                                          erasure.approved_by))
            await self._step(erasure, "mapping destroyed",
                             lambda: asyncio.to_thread(self.book.vault.destroy, erasure.subject_ref))
            await self._step(erasure, "receipt issued", lambda: self._receipt(erasure))
        except TransientError as exc:
            done = ", ".join(progress["steps"]) or "nothing yet"
            raise ErasureStopped(f"erasure {erasure_id} stopped part-way ({exc}); done: {done}. POST "
                                 f"/erasures/{erasure_id}/run resumes it from there") from exc
        erasure.status = "completed"
        await asyncio.to_thread(self.store.save_erasure, erasure)
        logger.info("erasure %s completed (%s)", erasure_id, "resumed" if resumed else "in one go")
        return Outcome(erasure, resumed)

    async def _step(self, erasure: Erasure, name: str, action: Any) -> None:
        steps = erasure.progress["steps"]  # type: ignore[index]
        if name in steps:
            return
        await action()
        steps.append(name)
        await asyncio.to_thread(self.store.save_erasure, erasure)

    async def _rewrite(self, erasure: Erasure, old_id: str) -> None:
        entry = await asyncio.to_thread(self.catalog.get, old_id)
        if entry is None:  # rewritten before a crash, index not yet moved: finish the move
            new_id = erasure.progress["replaced"].get(old_id, "")  # type: ignore[index]
            await asyncio.to_thread(self.store.move_dataset, old_id, new_id, [erasure.subject_ref])
            return
        new_entry, removed, arrived = await asyncio.to_thread(self._without_subject, entry, erasure)
        await self.publisher.publish(ev.DatasetErased(
            erasure_id=erasure.erasure_id, old_dataset_id=old_id, dataset=arrived, rows_removed=removed,
            subject_refs=[erasure.subject_ref]), subject=entry.name)
        progress = erasure.progress
        progress["replaced"][old_id] = new_entry.dataset_id  # type: ignore[index]
        progress["rows_removed"] += removed  # type: ignore[index]
        progress["steps"].append(f"rewrote {entry.name} v{entry.version}")  # type: ignore[index]
        await asyncio.to_thread(self.store.save_erasure, erasure)
        await asyncio.to_thread(self.catalog.replace, old_id, new_entry)
        await asyncio.to_thread(self.store.move_dataset, old_id, new_entry.dataset_id, [erasure.subject_ref])
        for uri in (entry.uri, entry.profile_uri):
            await asyncio.to_thread(self.artifacts.delete, uri)
        logger.info("erasure %s: %s v%d rewritten as %s (%d rows removed)", erasure.erasure_id, entry.name,
                    entry.version, new_entry.dataset_id[:12], removed)

    def _without_subject(self, entry: CatalogEntry, erasure: Erasure) -> tuple[CatalogEntry, int, ev.DatasetArrived]:
        spec = DatasetSpec.model_validate(entry.spec)
        frame, problems = read_table(self.artifacts.get(entry.uri), entry.source_format)
        if frame is None:
            raise RuntimeError(f"stored dataset {entry.dataset_id} cannot be read: {problems}")
        column = spec.subject_id_column or ""
        keep = frame[column].astype(str) != erasure.subject_ref
        kept = frame[keep].reset_index(drop=True)
        new_id, uri = self.artifacts.put("datasets", serialize(kept, entry.source_format), FORMATS[entry.source_format])
        stats = profile(kept, spec)
        _, profile_uri = self.artifacts.put_json("datasets", stats)
        provenance = {**json.loads(entry.provenance_json), "erasure_id": erasure.erasure_id}
        new_entry = replace(entry, dataset_id=new_id, uri=uri, profile_uri=profile_uri, rows=len(kept),
                            provenance_json=json.dumps(provenance, sort_keys=True), upload_sha256="")
        stamped = ParseDict(provenance, ev.DatasetProvenance(), ignore_unknown_fields=True)
        stamped.uploaded_by, stamped.original_filename = entry.uploader, entry.original_filename
        stored = events.Stored(dataset_id=new_id, uri=uri, profile_uri=profile_uri, rows=len(kept),
                               source_format=entry.source_format, version=entry.version, dtypes=entry.dtypes,
                               imputed_cells=int(stats["imputed_cells"]),
                               ignored_columns=[c for c in spec.ignore if c in kept.columns])
        return new_entry, int((~keep).sum()), events.dataset_arrived(spec, stored, stamped)

    async def _receipt(self, erasure: Erasure) -> None:
        progress = erasure.progress or {}
        body = {"erasure_id": erasure.erasure_id, "subject_ref": erasure.subject_ref, "reason": erasure.reason,
                "requested_by": erasure.requested_by, "requested_at": erasure.requested_at,
                "approved_by": erasure.approved_by, "approved_at": erasure.approved_at, "completed_at": _now(),
                "replaced_dataset_versions": progress.get("replaced", {}),
                "rows_removed": progress.get("rows_removed", 0),
                "old_bytes": "deleted", "mapping_destroyed": True, "consent_state": "erased"}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        erasure.receipt = {**body, "sha256": digest}
        await self.publisher.publish(ev.ErasureCompleted(
            erasure_id=erasure.erasure_id, subject_ref=erasure.subject_ref, requested_by=erasure.requested_by,
            approved_by=erasure.approved_by,
            replaced_dataset_ids=[f"{o}>{n}" for o, n in body["replaced_dataset_versions"].items()],
            rows_removed=int(body["rows_removed"]), mapping_destroyed=True, receipt_sha256=digest),
            subject=f"{erasure.subject_ref}/erasure")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
