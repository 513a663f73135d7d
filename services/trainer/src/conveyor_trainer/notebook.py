"""A model fitted in a notebook, registered as ONNX: measured by the platform, then judged like any other.

The data scientist's client converts the pipeline to ONNX on their machine and uploads the file with its
signature. Here the file must be ONNX (pickles are never accepted: loading one runs arbitrary code), its
inputs must be the dataset's feature columns, and its signature must say what the graph says. The trainer
then runs it with ONNX Runtime on the registered dataset version's holdout (the same seeded split a
platform run would use), so its metrics and fairness gaps are the platform's, not self-reported; writes the
drift reference from its own predictions; and publishes ModelTrained (trigger and source "notebook"), so
the registry's gates and the audit ledger treat it as any trained model. The parity number is the
client's (it had the scikit-learn pipeline; the platform never does).

The run id is derived from the file, the dataset and the name: registering the same model twice is one run.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import pandas as pd
from google.protobuf.message import DecodeError

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore

from .adapters.onnx_model import ModelUnusable, OnnxModel
from .columns import Column, columns_of
from .composition import compose
from .dataset import Table, class_array, load_table
from .holdout import Predictions, fairness_gaps, metrics_of
from .recipe import resolve_spec
from .reference import build_reference
from .settings import TrainerSettings
from .training import Trigger

logger = logging.getLogger(__name__)
NOTEBOOK = "notebook"
_NAMESPACE = uuid.UUID("0b8c35f4-5f7e-4f0a-9d1e-6a1b2c3d4e5f")
_DATATYPES = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64", "tensor(string)": "BYTES",
              "tensor(bool)": "BOOL"}
_PICKLE_MAGIC = (b"\x80",)  # protocol 2 and later start with PROTO; joblib files are pickles too


class NotAnOnnxModel(Exception):  # noqa: N818 - names what the client sent
    """The file is not ONNX (a pickle, or something else)."""


class ModelRefused(Exception):  # noqa: N818
    """The ONNX model does not fit the dataset, or its signature does not say what the graph says."""


class DatasetUnknown(LookupError):
    """The trainer has not been told of that dataset version."""


@dataclass(frozen=True)
class NotebookUpload:
    onnx_bytes: bytes
    filename: str
    signature: dict[str, Any]
    dataset_id: str
    model_name: str


def run_id_of(upload: NotebookUpload) -> str:
    digest = hashlib.sha256(upload.onnx_bytes).hexdigest()
    return uuid.uuid5(_NAMESPACE, f"{digest}/{upload.dataset_id}/{upload.model_name}").hex


def evaluate_notebook_model(upload: NotebookUpload, dataset: ev.DatasetArrived | None, run_id: str,
                            store: ArtifactStore, settings: TrainerSettings) -> ev.ModelTrained:
    """Check, measure and store the model; the ModelTrained to publish (blocking: run it in a thread)."""
    _refuse_non_onnx(upload)
    if dataset is None:
        raise DatasetUnknown(f"the trainer has not seen dataset {upload.dataset_id!r}; upload the table to ingest "
                             "first (POST /datasets) and pass the dataset_id it returns")
    columns = columns_of(list(dataset.features))
    try:
        model = OnnxModel(upload.onnx_bytes)
    except ModelUnusable as exc:
        raise ModelRefused(str(exc)) from exc
    _check_inputs(model, columns, upload.signature)
    task = dataset.task
    spec = resolve_spec(dataset.training, task, dataset.name)
    rows = compose(dataset, (), lambda d: load_table(store, d, columns), spec.holdout_fraction, int(spec.seed),
                   task == ev.TASK_CLASSIFICATION)
    holdout = _labelled(rows.holdout, task)
    predicted = _predict(model, holdout.x, columns, task)
    metrics = metrics_of(task, holdout.y, predicted)
    if spec.primary_metric not in metrics:
        raise ModelRefused(f"the primary metric {spec.primary_metric} could not be measured on the holdout")
    class_labels = [str(c) for c in predicted.classes] if predicted.classes is not None else []
    reference = build_reference(lambda x: _predict(model, x, columns, task).labels, class_labels, columns, task,
                                rows.train.x, dataset.target, list(dataset.sensitive_attributes),
                                settings.reference_rows, int(spec.seed))
    _, artifact_uri = store.put("models", upload.onnx_bytes, ".onnx")
    _, reference_uri = store.put_json("references", reference)
    spec.model_name = upload.model_name
    spec.estimator = f"{NOTEBOOK}:{str(upload.signature.get('estimator', 'unknown'))[:200]}"
    spec.ClearField("params")
    spec.ClearField("search")
    logger.info("notebook model %s measured on %d holdout rows of %s: %s", upload.model_name, len(holdout.y),
                dataset.dataset_id, metrics)
    return ev.ModelTrained(
        model_name=upload.model_name, run_id=run_id, dataset_id=dataset.dataset_id, artifact_uri=artifact_uri,
        reference_uri=reference_uri, metrics=metrics,
        fairness=fairness_gaps(task, holdout.y, predicted, holdout.sensitive), training=spec,
        code_version=settings.code_version, task=task, feature_names=[c.name for c in columns],
        class_labels=class_labels, parity_max_abs_diff=float(upload.signature.get("parity_max_abs_diff", 0.0)),
        trigger=Trigger.NOTEBOOK, sensitive_attributes=list(dataset.sensitive_attributes),
        inputs=[ev.ModelInput(name=i.name, datatype=_DATATYPES.get(i.type, i.type),
                              kind=next(c.kind for c in columns if c.name == i.name)) for i in model.inputs],
        training_dataset_ids=list(rows.dataset_ids), training_rows=len(rows.train.y), source=NOTEBOOK,
    )


def _refuse_non_onnx(upload: NotebookUpload) -> None:
    lowered = upload.filename.lower()
    if upload.onnx_bytes.startswith(_PICKLE_MAGIC) or lowered.endswith((".pkl", ".pickle", ".joblib")):
        raise NotAnOnnxModel("pickles are never accepted (loading one runs arbitrary code): convert the pipeline "
                             "to ONNX with skl2onnx (the Python client's log_model does) and upload the .onnx file")
    try:
        onnx.checker.check_model(onnx.load_model_from_string(upload.onnx_bytes))
    except (DecodeError, onnx.checker.ValidationError, ValueError) as exc:
        raise NotAnOnnxModel(f"the file is not a valid ONNX model ({exc}); upload the .onnx file skl2onnx "
                             "wrote") from exc


def _check_inputs(model: OnnxModel, columns: list[Column], signature: dict[str, Any]) -> None:
    declared = [str(i.get("name")) for i in signature.get("inputs", []) if isinstance(i, dict)]
    if declared != model.input_names:
        raise ModelRefused(f"signature.inputs {declared} are not the model's inputs {model.input_names}; send the "
                           "signature of this file")
    features = [c.name for c in columns]
    missing = [f for f in features if f not in model.input_names]
    extra = [i for i in model.input_names if i not in features]
    if missing or extra:
        raise ModelRefused(f"the model's inputs must be the dataset's feature columns {features}: "
                           f"missing {missing}, not features {extra}; convert with one input per column")
    text = {c.name for c in columns if c.text}
    wrong = [i.name for i in model.inputs if (i.name in text) != (i.type == "tensor(string)")]
    if wrong:
        raise ModelRefused(f"input(s) {wrong}: text categories take string tensors and the other columns take "
                           "numbers (float); convert with those types")


def _labelled(holdout: Table, task: int) -> Table:
    y = class_array(holdout.y) if task == ev.TASK_CLASSIFICATION else holdout.y
    return Table(holdout.dataset_id, holdout.x, y, holdout.sensitive)


def _predict(model: OnnxModel, x: pd.DataFrame, columns: list[Column], task: int) -> Predictions:
    try:
        predicted = model.predict(x, columns, task)
    except ModelUnusable as exc:
        raise ModelRefused(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's errors are untyped; the message says what failed
        raise ModelRefused(f"ONNX Runtime could not run the model on the dataset's rows: {exc}") from exc
    values = np.asarray(predicted.probabilities if predicted.probabilities is not None else predicted.labels,
                        dtype=np.float64)
    finite = np.isfinite(values)
    bad = int((~(finite.all(axis=1) if finite.ndim > 1 else finite)).sum())
    if bad:
        raise ModelRefused(f"the model returns NaN or inf on {bad} of {len(values)} rows; rows with gaps need "
                           'imputers inside the pipeline (a missing text arrives as "")')
    return predicted
