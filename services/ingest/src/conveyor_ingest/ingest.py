"""Accept or reject one upload: validate, store, announce, then record, so nothing is half-written.

Order matters. Bytes and profile go to the content-addressed store first (a leftover object is harmless:
the same upload later maps to the same name). DatasetArrived is published next, and only then is the
catalog row committed: if the broker is down the client gets 503 and no row claims a dataset nobody was
told about, so a retry starts clean. If the commit itself fails after publishing, a retry publishes again:
consumers see DatasetArrived at least once, keyed by dataset_id.
"""

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from google.protobuf.message import Message
from opentelemetry import trace

from conveyor_kernel import ArtifactStore, Publisher, TransientError, tracer

from . import events
from .adapters.catalog import Catalog, CatalogEntry
from .metrics import IngestMetrics
from .problems import FILE, ColumnProblem, UploadInvalid, UploadRejected, UploadTooLarge
from .profile import profile
from .spec import DatasetSpec
from .tabular import FORMATS, detect_format, read_table
from .validation import validate

logger = logging.getLogger(__name__)
KIND = "datasets"


class PublishFailed(Exception):  # noqa: N818 - names the outcome the client sees
    """The broker did not take the event; nothing was recorded and the client may retry."""


class DatasetNotFound(LookupError):
    """No dataset has that id."""


class SpecConflict(Exception):  # noqa: N818
    """These exact bytes are already a dataset, described by a different spec."""


@dataclass(frozen=True)
class Upload:
    spec: DatasetSpec
    data: bytes
    size: int  # of the whole part; `data` is cut short when the part is over the limit
    sha256: str
    filename: str
    declared_format: str | None
    uploader: str

    def spec_json(self) -> str:
        return json.dumps(self.spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Accepted:
    entry: CatalogEntry
    duplicate: bool


@dataclass
class Ingestor:
    store: ArtifactStore
    catalog: Catalog
    publisher: Publisher
    metrics: IngestMetrics
    max_upload_bytes: int
    min_rows: int

    def __post_init__(self) -> None:
        # One process announces a given upload once, even when a client sends it twice at the same moment.
        self._announce = asyncio.Lock()

    async def ingest(self, upload: Upload) -> Accepted:
        # A rejection is an answer, not a fault: only a failed publish marks the span as an error.
        with tracer.start_as_current_span(
            "ingest dataset", record_exception=False, set_status_on_exception=False
        ) as span:
            span.set_attribute("conveyor.dataset.name", upload.spec.name)
            span.set_attribute("conveyor.dataset.sha256", upload.sha256)
            try:
                accepted = await self._ingest(upload)
            except UploadRejected as exc:
                span.set_attribute("conveyor.outcome", f"rejected ({exc.reason})")
                raise
            except PublishFailed as exc:
                span.set_status(trace.StatusCode.ERROR, str(exc))
                raise
            span.set_attribute("conveyor.dataset.id", accepted.entry.dataset_id)
            span.set_attribute("conveyor.outcome", "duplicate" if accepted.duplicate else "accepted")
            return accepted

    async def describe(self, dataset_id: str) -> dict[str, Any]:
        """The catalog entry with its spec, profile and provenance."""
        entry = await asyncio.to_thread(self.catalog.get, dataset_id)
        if entry is None:
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}; GET /datasets lists the known ones")
        stats = await asyncio.to_thread(self.store.get_json, entry.profile_uri)
        return {**entry.summary(), "spec": entry.spec, "profile": stats, "provenance": entry.provenance()}

    async def _ingest(self, upload: Upload) -> Accepted:
        if upload.size > self.max_upload_bytes:
            await self._reject(upload, UploadTooLarge("the file is too large", [ColumnProblem(
                FILE, f"the file is {upload.size} bytes; the limit is {self.max_upload_bytes} bytes "
                      "(setting max_upload_bytes): split it or sample it")]))
        fmt = detect_format(upload.filename, upload.declared_format)
        if fmt is None:
            await self._reject(upload, UploadInvalid("unknown file format", [ColumnProblem(
                FILE, f"cannot tell the format of {upload.filename!r}: name the file *.csv or *.parquet, "
                      f"or send a form field format={'|'.join(FORMATS)}")]))
        known = await self._known(upload)
        if known is not None:
            return known
        frame, problems = await asyncio.to_thread(read_table, upload.data, fmt)
        if frame is not None:
            problems = await asyncio.to_thread(validate, frame, upload.spec, self.min_rows)
        if frame is None or problems:
            await self._reject(upload, UploadInvalid(f"the dataset {upload.spec.name!r} failed validation", problems))
        dataset_id, uri = await asyncio.to_thread(self.store.put, KIND, upload.data, FORMATS[fmt])
        stats = await asyncio.to_thread(profile, frame, upload.spec)
        _, profile_uri = await asyncio.to_thread(self.store.put_json, KIND, stats)
        entry = CatalogEntry(
            dataset_id=dataset_id, name=upload.spec.name, uri=uri, profile_uri=profile_uri, rows=len(frame),
            source_format=fmt, spec_json=upload.spec_json(), owner=upload.spec.owner,
            consent_basis=upload.spec.consent_basis, uploader=upload.uploader,
            original_filename=upload.filename, received_at=datetime.now(UTC).isoformat(),
        )
        return await self._announce_and_record(upload, entry)

    async def _known(self, upload: Upload) -> Accepted | None:
        existing = await asyncio.to_thread(self.catalog.get, upload.sha256)
        if existing is None:
            return None
        if existing.spec_json != upload.spec_json():
            raise SpecConflict(
                f"these bytes are already dataset {upload.sha256} ({existing.name!r}) with a different spec; "
                "re-send that spec to get the existing dataset, or change the data"
            )
        self.metrics.duplicate.inc()
        logger.info("dataset %s re-uploaded by %s: returning the stored one", upload.sha256, upload.uploader)
        return Accepted(existing, duplicate=True)

    async def _announce_and_record(self, upload: Upload, entry: CatalogEntry) -> Accepted:
        async with self._announce:
            known = await self._known(upload)
            if known is not None:
                return known
            event = events.dataset_arrived(
                upload.spec, entry.dataset_id, entry.uri, entry.profile_uri, entry.rows, entry.source_format
            )
            await self._publish(event, entry.dataset_id)
            await asyncio.to_thread(self.catalog.add, entry)
        self.metrics.accepted.inc()
        logger.info("dataset %s (%s, %d rows) accepted from %s", entry.dataset_id, entry.name, entry.rows,
                    entry.uploader)
        return Accepted(entry, duplicate=False)

    async def _reject(self, upload: Upload, rejection: UploadRejected) -> NoReturn:
        """Announce the rejection (with the content hash, never the bytes), then raise it to the client."""
        problems = rejection.problems
        await self._publish(events.dataset_rejected(upload.spec, problems, upload.sha256), upload.spec.name)
        self.metrics.rejected.labels(reason=rejection.reason).inc()
        logger.info("dataset %s from %s rejected (%s): %d problem(s)", upload.spec.name, upload.uploader,
                    rejection.reason, len(problems))
        raise rejection

    async def _publish(self, event: Message, subject: str) -> None:
        try:
            await self.publisher.publish(event, subject)
        except TransientError as exc:
            logger.warning("could not publish %s for %s: %s", type(event).__name__, subject, exc)
            raise PublishFailed(f"the event bus is unavailable, nothing was recorded; retry later ({exc})") from exc
