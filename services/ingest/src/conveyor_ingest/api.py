"""REST edge of ingest: read the multipart upload, hand it to the Ingestor, answer with what it decided.

Errors are the domain's; ERRORS below is the one place that turns them into statuses.
"""

import asyncio
import hashlib
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from conveyor_kernel import PrincipalDep

from .consent.book import ConsentPublishFailed, PurposeUnknown, SubjectUnknown
from .consent.erasure import ErasureForbidden, ErasureNotFound, ErasureStopped
from .deps import IngestorDep
from .ingest import Accepted, DatasetNotFound, PublishFailed, SpecConflict, Upload
from .problems import UploadInvalid, UploadTooLarge
from .recipes import spec_problems
from .spec import DatasetSpec


class FormInvalid(Exception):  # noqa: N818 - names what the client sent
    """The multipart form itself is wrong: a part is missing, or the spec does not validate."""

    def __init__(self, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail)
        self.errors = errors

    def problem(self) -> dict[str, Any]:
        return {"detail": str(self), "errors": self.errors}


class EncodingRefused(Exception):  # noqa: N818 - names what the client sent
    """The body is compressed (Content-Encoding); the upload takes it uncompressed."""


ERRORS: dict[type[Exception], int] = {
    FormInvalid: 422, UploadInvalid: 422, UploadTooLarge: 413, SpecConflict: 409, DatasetNotFound: 404,
    PublishFailed: 503, SubjectUnknown: 404, PurposeUnknown: 422, ConsentPublishFailed: 503, ErasureNotFound: 404,
    ErasureForbidden: 403, ErasureStopped: 503, EncodingRefused: 415,
}
router = APIRouter(tags=["datasets"])
_CHUNK = 1024 * 1024
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the spec part, on top of the file itself

_UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "spec"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the dataset, CSV or Parquet"},
        "spec": {"type": "string", "description": "JSON: the DatasetSpec (see the schema DatasetSpec)"},
        "format": {"type": "string", "enum": ["csv", "parquet"], "description": "overrides the extension"},
    }}}}}}


@router.post("/datasets", status_code=201, openapi_extra=_UPLOAD_BODY,
             responses={200: {"description": "already stored"}, 409: {}, 413: {}, 415: {}, 422: {}, 503: {}})
async def upload_dataset(request: Request, ingestor: IngestorDep, principal: PrincipalDep) -> JSONResponse:
    """The uploader recorded in provenance is the token's subject; an X-Conveyor-User header is ignored."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ingestor.max_upload_bytes + _FORM_OVERHEAD:
        # refuse before reading: a client that announces too much is not made to send it all first
        raise UploadTooLarge(f"upload of {declared} bytes exceeds the limit of {ingestor.max_upload_bytes} bytes; "
                             "split the dataset", [])
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        # Starlette does not decode a compressed body, and its multipart parser then says only "Invalid
        # multipart data."; decoding it here would also let a small bomb expand past max_upload_bytes.
        raise EncodingRefused(f"Content-Encoding {encoding!r} is not accepted: send the multipart body "
                              "uncompressed (drop the header); to send fewer bytes, upload Parquet, which is "
                              "compressed inside")
    try:
        form = await request.form()
    except HTTPException as exc:
        raise FormInvalid(f"the body is not multipart/form-data ({exc.detail}): send the fields 'file' and "
                          "'spec', e.g. curl -F file=@data.csv -F spec=@spec.json", [
                              {"field": "body", "reason": str(exc.detail)}]) from exc
    try:
        spec = await _spec(form.get("spec"))
        upload = await _upload(form.get("file"), form.get("format"), spec, principal.subject,
                               ingestor.max_upload_bytes)
        accepted = await ingestor.ingest(upload)
    finally:
        await form.close()
    return JSONResponse(_created(accepted), status_code=200 if accepted.duplicate else 201)


@router.get("/datasets")
async def list_datasets(
    ingestor: IngestorDep, limit: int = Query(default=100, ge=1, le=1000),
    name: str | None = Query(default=None, description="only this dataset's versions, newest first"),
) -> dict[str, list[dict[str, Any]]]:
    """Newest first."""
    entries = await asyncio.to_thread(ingestor.catalog.list, limit, name)
    return {"datasets": [entry.summary() for entry in entries]}


@router.get("/datasets/{dataset_id}", responses={404: {}})
async def get_dataset(dataset_id: str, ingestor: IngestorDep) -> dict[str, Any]:
    return await ingestor.describe(dataset_id)


def _created(accepted: Accepted) -> dict[str, Any]:
    entry = accepted.entry
    return {"dataset_id": entry.dataset_id, "uri": entry.uri, "rows": entry.rows, "name": entry.name,
            "version": entry.version, "profile_uri": entry.profile_uri, "duplicate": accepted.duplicate}


async def _spec(part: Any) -> DatasetSpec:
    if part is None:
        raise FormInvalid("missing form part 'spec'", [{
            "field": "spec", "reason": "send the dataset spec as JSON in the multipart field 'spec'"}])
    text = (await part.read()).decode("utf-8", "replace") if isinstance(part, UploadFile) else part
    try:
        spec = DatasetSpec.model_validate_json(text)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in error["loc"]) or "spec", "reason": error["msg"]}
                  for error in exc.errors(include_url=False)]
        raise FormInvalid(f"the spec is invalid: {_summary(errors)}", errors) from exc
    problems = await asyncio.to_thread(spec_problems, spec)
    if problems:
        errors = [p.as_dict() for p in problems]
        raise FormInvalid(f"the spec cannot be trained as written: {_summary(errors)}", errors)
    return spec


def _summary(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']}: {e['reason']}" for e in errors)


async def _upload(part: Any, declared_format: Any, spec: DatasetSpec, uploader: str, limit: int) -> Upload:
    if not isinstance(part, UploadFile):
        raise FormInvalid("missing file part 'file'", [{
            "field": "file", "reason": "send the CSV or Parquet file in the multipart field 'file' (with a filename)"}])
    # Hash everything but keep at most `limit` bytes: the rejection still names what was sent.
    digest, kept, size = hashlib.sha256(), bytearray(), 0
    while chunk := await part.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if size <= limit:
            kept += chunk
    return Upload(spec=spec, data=bytes(kept), size=size, sha256=digest.hexdigest(),
                  filename=part.filename or "", declared_format=declared_format if isinstance(declared_format, str)
                  else None, uploader=uploader)
