"""REST: the record of training runs, and models fitted in a notebook (uploaded as ONNX, never pickles).

Errors are the domain's; ERRORS below is the one place that turns them into statuses.
"""

import json
from typing import Any

from fastapi import APIRouter, File, Form, UploadFile
from google.protobuf.json_format import MessageToDict

from .deps import IntakeDep, PortsDep, RunsDep
from .intake import PublishFailed
from .notebook import DatasetUnknown, ModelRefused, NotAnOnnxModel, NotebookUpload
from .runs import RunNotFound


class FormInvalid(Exception):  # noqa: N818 - names what the client sent
    """A form field is missing or unreadable."""


ERRORS: dict[type[Exception], int] = {
    RunNotFound: 404, DatasetUnknown: 404, NotAnOnnxModel: 415, ModelRefused: 422, FormInvalid: 422,
    PublishFailed: 503,
}
router = APIRouter(tags=["runs"])
MAX_MODEL_BYTES = 200 * 1024 * 1024


@router.get("/runs")
async def list_runs(runs: RunsDep) -> list[dict[str, Any]]:
    """The most recent runs, newest first, with status (running | trained | failed) and metrics."""
    return runs.latest()


@router.get("/subjects/{subject_ref}/models")
async def models_of_subject(subject_ref: str, ports: PortsDep) -> dict[str, Any]:
    """Which model versions were trained on this subject (by its pseudonymous reference; ingest's POST
    /subjects/resolve turns a raw id into one). From the rows each run actually learned from."""
    runs = [r for r in (ports.state.run(run_id) for run_id in ports.consent.runs_of(subject_ref)) if r]
    versions = ports.consent.versions_of(r["run_id"] for r in runs)
    return {"subject_ref": subject_ref, "models": [
        {"model_name": r["model_name"], "version": versions.get(r["run_id"]), "run_id": r["run_id"],
         "dataset_id": r["dataset_id"], "status": r["status"], "trigger": r["trigger"]} for r in runs]}


@router.get("/runs/{run_id}", responses={404: {}})
async def get_run(run_id: str, runs: RunsDep) -> dict[str, Any]:
    """One run, with the rows it learnt from, its search trials and its fresh comparison."""
    return runs.get(run_id)


@router.post("/models", status_code=201, tags=["notebook"], responses={404: {}, 415: {}, 422: {}, 503: {}})
async def register_model(
    intake: IntakeDep,
    file: UploadFile = File(description="the model as ONNX (pickles are refused)"),
    signature: str = Form(description='JSON: {"inputs": [{"name", "datatype"}...], "estimator", '
                                      '"parity_max_abs_diff"}; the inputs must be the graph\'s'),
    dataset_id: str = Form(description="the registered dataset version the model is measured on"),
    model_name: str = Form(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
) -> dict[str, Any]:
    """Measure a notebook's model on the dataset's holdout and announce it as ModelTrained (source notebook)."""
    data = await file.read(MAX_MODEL_BYTES + 1)
    if len(data) > MAX_MODEL_BYTES:
        raise FormInvalid(f"file: the model is over {MAX_MODEL_BYTES} bytes")
    try:
        declared = json.loads(signature)
    except json.JSONDecodeError as exc:
        raise FormInvalid(f"signature: not JSON ({exc.msg}); send the signature log_model writes") from exc
    if not isinstance(declared, dict):
        raise FormInvalid("signature: must be a JSON object with an 'inputs' list")
    upload = NotebookUpload(onnx_bytes=data, filename=file.filename or "", signature=declared, dataset_id=dataset_id,
                            model_name=model_name)
    trained = await intake.register(upload)
    return {"run_id": trained.run_id, "model_name": trained.model_name, "dataset_id": trained.dataset_id,
            "artifact_uri": trained.artifact_uri, "metrics": dict(trained.metrics),
            "fairness": [MessageToDict(g, preserving_proto_field_name=True) for g in trained.fairness],
            "source": trained.source}
