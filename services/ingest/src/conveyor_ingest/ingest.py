"""Accept or reject one table: validate, store, announce, then record, so nothing is half-written.

Two doors lead here: an upload over REST, and production feedback (`feedback.py`). Both become a
`Candidate` and take the same path.

Order matters. Bytes and profile go to the content-addressed store first (a leftover object is harmless:
the same upload later maps to the same name). DatasetArrived is published next, and only then is the
catalog row committed: if the broker is down the client gets 503 and no row claims a dataset nobody was
told about, so a retry starts clean. If the commit itself fails after publishing, a retry publishes again:
consumers see DatasetArrived at least once, keyed by dataset_id.

The version number of a name is claimed in the catalog for the dataset id before it is announced, in a
transaction serialized per name across every ingest instance, so two tables for one name never get the same
number; a retry of a table whose publish failed gets the number it claimed. Within one process the same lock
that guards publish-and-record keeps the check for a twin and the claim together.
"""

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry import trace

from conveyor.events.v1 import events_pb2 as ev
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


class PublishFailed(TransientError):  # noqa: N818 - names the outcome the client sees
    """The broker did not take the event; nothing was recorded and the client (or consumer) may retry."""


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
        return spec_json(self.spec)


def spec_json(spec: DatasetSpec) -> str:
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Candidate:
    """A parsed-or-not table on its way in, with what it must be checked against."""

    spec: DatasetSpec
    data: bytes
    sha256: str
    fmt: str
    uploader: str
    filename: str
    provenance: ev.DatasetProvenance  # kind and, for feedback, where it came from
    min_rows: int
    optional: tuple[str, ...] = ()  # declared columns the table may lack
    expected_dtypes: Mapping[str, str] | None = None  # feedback: how the parent version was read


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
        # One process announces a given table once, even when a client sends it twice at the same moment.
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
        entry = await self.entry(dataset_id)
        stats = await asyncio.to_thread(self.store.get_json, entry.profile_uri)
        return {**entry.summary(), "spec": entry.spec, "profile": stats, "provenance": entry.provenance(),
                "dtypes": entry.dtypes}

    async def entry(self, dataset_id: str) -> CatalogEntry:
        entry = await asyncio.to_thread(self.catalog.get, dataset_id)
        if entry is None:
            raise DatasetNotFound(f"no dataset with id {dataset_id!r}; GET /datasets lists the known ones")
        return entry

    async def _ingest(self, upload: Upload) -> Accepted:
        if upload.size > self.max_upload_bytes:
            await self._reject(upload.spec, upload.sha256, upload.uploader, UploadTooLarge(
                "the file is too large", [ColumnProblem(
                    FILE, f"the file is {upload.size} bytes; the limit is {self.max_upload_bytes} bytes "
                          "(setting max_upload_bytes): split it or sample it")]))
        fmt = detect_format(upload.filename, upload.declared_format)
        if fmt is None:
            await self._reject(upload.spec, upload.sha256, upload.uploader, UploadInvalid(
                "unknown file format", [ColumnProblem(
                    FILE, f"cannot tell the format of {upload.filename!r}: name the file *.csv or *.parquet, "
                          f"or send a form field format={'|'.join(FORMATS)}")]))
        known = await self._known(upload)
        if known is not None:
            return known
        return await self.accept(Candidate(
            spec=upload.spec, data=upload.data, sha256=upload.sha256, fmt=fmt, uploader=upload.uploader,
            filename=upload.filename, provenance=ev.DatasetProvenance(kind="upload"), min_rows=self.min_rows,
        ))

    async def accept(self, candidate: Candidate) -> Accepted:
        """Validate, store, announce, record; or announce the rejection and raise it."""
        spec = candidate.spec
        frame, problems = await asyncio.to_thread(read_table, candidate.data, candidate.fmt)
        if frame is not None:
            problems = await asyncio.to_thread(validate, frame, spec, candidate.min_rows,
                                               optional=candidate.optional,
                                               expected_dtypes=candidate.expected_dtypes)
        if frame is None or problems:
            await self._reject(spec, candidate.sha256, candidate.uploader, UploadInvalid(
                f"the dataset {spec.name!r} failed validation", problems))
        dataset_id, uri = await asyncio.to_thread(self.store.put, KIND, candidate.data, FORMATS[candidate.fmt])
        stats = await asyncio.to_thread(profile, frame, spec)
        _, profile_uri = await asyncio.to_thread(self.store.put_json, KIND, stats)
        dtypes = dict(candidate.expected_dtypes or {
            name: column["dtype"] for name, column in stats["columns"].items() if "dtype" in column})
        provenance = MessageToDict(candidate.provenance, preserving_proto_field_name=True)
        entry = CatalogEntry(
            dataset_id=dataset_id, name=spec.name, uri=uri, profile_uri=profile_uri, rows=len(frame),
            source_format=candidate.fmt, spec_json=spec_json(spec), owner=spec.owner,
            consent_basis=spec.consent_basis, uploader=candidate.uploader,
            original_filename=candidate.filename, received_at=datetime.now(UTC).isoformat(),
            provenance_json=json.dumps(provenance, sort_keys=True), dtypes_json=json.dumps(dtypes, sort_keys=True),
        )
        ignored = [c for c in spec.ignore if c in frame.columns]
        return await self._announce_and_record(spec, entry, candidate.provenance, stats["imputed_cells"], ignored)

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

    async def _announce_and_record(self, spec: DatasetSpec, entry: CatalogEntry, provenance: ev.DatasetProvenance,
                                   imputed_cells: int, ignored: list[str]) -> Accepted:
        async with self._announce:
            existing = await asyncio.to_thread(self.catalog.get, entry.dataset_id)
            if existing is not None:  # a twin of this table won the race while we validated
                self.metrics.duplicate.inc()
                return Accepted(existing, duplicate=True)
            version = await asyncio.to_thread(self.catalog.claim_version, entry.name, entry.dataset_id)
            entry = CatalogEntry(**{**entry.__dict__, "version": version})
            stamped = ev.DatasetProvenance()
            stamped.CopyFrom(provenance)
            stamped.uploaded_by, stamped.original_filename = entry.uploader, entry.original_filename
            stored = events.Stored(
                dataset_id=entry.dataset_id, uri=entry.uri, profile_uri=entry.profile_uri, rows=entry.rows,
                source_format=entry.source_format, version=version, dtypes=entry.dtypes,
                imputed_cells=imputed_cells, ignored_columns=ignored,
            )
            await self._publish(events.dataset_arrived(spec, stored, stamped), entry.dataset_id)
            await asyncio.to_thread(self.catalog.add, entry)
        self.metrics.accepted.inc()
        logger.info("dataset %s (%s v%d, %d rows, %s) accepted from %s", entry.dataset_id, entry.name, version,
                    entry.rows, provenance.kind, entry.uploader)
        return Accepted(entry, duplicate=False)

    async def _reject(self, spec: DatasetSpec, sha256: str, uploader: str, rejection: UploadRejected) -> NoReturn:
        """Announce the rejection (with the content hash, never the bytes), then raise it to the caller."""
        problems = rejection.problems
        await self._publish(events.dataset_rejected(spec, problems, sha256), spec.name)
        self.metrics.rejected.labels(reason=rejection.reason).inc()
        logger.info("dataset %s from %s rejected (%s): %d problem(s)", spec.name, uploader, rejection.reason,
                    len(problems))
        raise rejection

    async def _publish(self, event: Message, subject: str) -> None:
        try:
            await self.publisher.publish(event, subject)
        except TransientError as exc:
            logger.warning("could not publish %s for %s: %s", type(event).__name__, subject, exc)
            raise PublishFailed(f"the event bus is unavailable, nothing was recorded; retry later ({exc})") from exc
