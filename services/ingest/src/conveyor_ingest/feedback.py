"""Production feedback in: the monitor's table of logged predictions joined with their late labels becomes
the next version of the dataset the model learned from, through the same validation as an upload.

The table follows the spec of the version named by FeedbackCollected.dataset_id, read with that version's
dtypes; it may lack the subject id column. Its id is the sha256 of its bytes, so a redelivered
FeedbackCollected finds the version it already made and creates no second one. A table that fails
validation is announced as DatasetRejected and refused as InvalidMessage (a dead letter with the reasons):
redelivering it could never succeed.
"""

import asyncio
import hashlib
import logging
from pathlib import PurePath

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import InvalidMessage

from .ingest import Accepted, Candidate, Ingestor
from .problems import UploadRejected
from .spec import DatasetSpec
from .tabular import detect_format

logger = logging.getLogger(__name__)
PRODUCTION_FEEDBACK = "production_feedback"


async def accept_feedback(ingestor: Ingestor, event: ev.FeedbackCollected, source: str) -> Accepted:
    missing = [name for name in ("model_name", "dataset_id", "uri") if not getattr(event, name)]
    if missing:
        raise InvalidMessage(f"FeedbackCollected lacks {', '.join(missing)}; the monitor must set them")
    parent = await asyncio.to_thread(ingestor.catalog.get, event.dataset_id)
    if parent is None:
        raise InvalidMessage(f"FeedbackCollected names dataset {event.dataset_id}, which ingest never accepted")
    data = await asyncio.to_thread(ingestor.store.get, event.uri)  # InvalidMessage when the table is gone
    sha256 = hashlib.sha256(data).hexdigest()
    if event.sha256 and event.sha256 != sha256:
        raise InvalidMessage(f"the table at {event.uri} has sha256 {sha256}, not the announced {event.sha256}")
    known = await asyncio.to_thread(ingestor.catalog.get, sha256)
    if known is not None:
        logger.info("feedback table %s is already %s v%d; nothing to do", sha256, known.name, known.version)
        return Accepted(known, duplicate=True)
    filename = PurePath(event.uri).name
    spec = DatasetSpec.model_validate(parent.spec)
    candidate = Candidate(
        spec=spec, data=data, sha256=sha256, fmt=detect_format(filename, None) or "parquet", uploader=source,
        filename=filename, provenance=provenance_of(event),
        min_rows=min(ingestor.min_rows, spec.training.retrain.min_labels),  # the monitor waited for these
        optional=(spec.subject_id_column,) if spec.subject_id_column else (), expected_dtypes=parent.dtypes,
    )
    try:
        return await ingestor.accept(candidate)
    except UploadRejected as exc:
        reasons = "; ".join(f"{p.column or 'file'}: {p.reason}" for p in exc.problems)
        raise InvalidMessage(f"feedback for {event.model_name} v{event.version} does not follow the spec of "
                             f"{spec.name} v{parent.version}: {reasons}") from exc


def provenance_of(event: ev.FeedbackCollected) -> ev.DatasetProvenance:
    return ev.DatasetProvenance(
        kind=PRODUCTION_FEEDBACK, parent_dataset_id=event.dataset_id, model_name=event.model_name,
        model_version=event.version, model_artifact_uri=event.artifact_uri, window_start_ms=event.window_start_ms,
        window_end_ms=event.window_end_ms, reason=event.reason,
    )
