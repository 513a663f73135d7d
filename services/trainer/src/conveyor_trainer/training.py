"""One training run, start to finish, as a plain blocking function (the handler runs it in a thread)."""

import json
import logging
import uuid
import warnings
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, tracer

from .columns import columns_of
from .comparison import compare
from .composition import Rows, compose
from .consent_gate import ConsentGate
from .dataset import Table, class_array, load_table
from .failures import TrainingFailure
from .holdout import fairness_gaps, metrics_of, predictions_of
from .onnx_export import export_onnx, parity_max_abs_diff
from .recipe import build_pipeline, resolve_spec
from .reference import build_reference
from .search import search
from .settings import TrainerSettings

logger = logging.getLogger(__name__)


class Trigger(StrEnum):
    """What started a run. The values are the wire strings of ModelTrained.trigger."""

    DATASET_ARRIVED = "dataset_arrived"
    RETRAIN_REQUESTED = "retrain_requested"
    PRODUCTION_FEEDBACK = "production_feedback"
    NOTEBOOK = "notebook"
    CONSENT_WITHDRAWN = "consent_withdrawn"  # retrained without the rows of subjects who withdrew or were erased


@dataclass(frozen=True)
class RunRequest:
    dataset: ev.DatasetArrived
    trigger: Trigger
    run_id: str = ""
    versions: tuple[ev.DatasetArrived, ...] = field(default=())  # the name's other versions, for the window
    gate: ConsentGate | None = None  # leaves out rows without valid consent; None: every row (tests)

    def with_run_id(self) -> "RunRequest":
        if self.run_id:
            return self
        return RunRequest(self.dataset, self.trigger, uuid.uuid4().hex, self.versions, self.gate)


def model_name_of(dataset: ev.DatasetArrived) -> str:
    return dataset.training.model_name or dataset.name


def train(request: RunRequest, store: ArtifactStore, settings: TrainerSettings) -> ev.ModelTrained:
    """Return the ModelTrained to publish, or raise TrainingFailure naming the stage that failed.

    Artifacts are written only after parity passed, so a failed run leaves nothing behind.
    """
    dataset = request.dataset
    task = dataset.task
    spec = resolve_spec(dataset.training, task, dataset.name)
    columns = columns_of(list(dataset.features))
    classification = task == ev.TASK_CLASSIFICATION
    gate = request.gate
    rows = compose(dataset, request.versions,
                   lambda d: gate.admit(load_table(store, d, columns)) if gate else load_table(store, d, columns),
                   spec.holdout_fraction, int(spec.seed), classification)
    y_train, y_holdout = _labels(rows, classification)
    trials: list[ev.SearchTrial] = []
    with tracer.start_as_current_span("train") as span:
        span.set_attribute("conveyor.estimator", spec.estimator)
        span.set_attribute("conveyor.train_rows", len(y_train))
        pipeline = build_pipeline(spec, task, columns)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # the metrics tell how good it is
                if spec.search.method:
                    searched = search(pipeline, spec, rows.train.x, y_train)
                    pipeline, trials = searched.pipeline, searched.trials
                    spec.params.update({k: json.dumps(v) for k, v in searched.best_params.items()})
                else:
                    pipeline.fit(rows.train.x, y_train)
        except (ValueError, TypeError) as exc:
            raise TrainingFailure("train", f"{spec.estimator} failed to fit: {exc}") from exc
    class_labels = [str(c) for c in pipeline.classes_] if classification else []
    with tracer.start_as_current_span("evaluate"):
        predicted = predictions_of(pipeline, rows.holdout.x, task)
        metrics = metrics_of(task, y_holdout, predicted)
        if spec.primary_metric not in metrics:
            raise TrainingFailure("evaluate", f"the primary metric {spec.primary_metric} could not be measured on "
                                              f"the {len(y_holdout)} holdout rows (got {sorted(metrics)}); the "
                                              "registry could not judge this model")
        fairness = fairness_gaps(task, y_holdout, predicted, rows.holdout.sensitive)
        labelled = Table(rows.holdout.dataset_id, rows.holdout.x, y_holdout, rows.holdout.sensitive)
        comparison = compare(store, rows.fresh, labelled, columns, task, metrics, class_labels) if rows.fresh \
            else None
    with tracer.start_as_current_span("export onnx"):
        onnx_bytes = export_onnx(pipeline, task, columns, settings.onnx_opset, spec.model_name, class_labels)
    with tracer.start_as_current_span("parity check") as span:
        parity = parity_max_abs_diff(onnx_bytes, pipeline, task, rows.holdout.x, columns, settings.parity_tolerance,
                                     settings.regression_parity_tolerance)
        span.set_attribute("conveyor.parity_max_abs_diff", parity)
    reference = build_reference(pipeline.predict, class_labels, columns, task, rows.train.x, dataset.target,
                                list(dataset.sensitive_attributes), settings.reference_rows, int(spec.seed))
    _, artifact_uri = store.put("models", onnx_bytes, ".onnx")
    _, reference_uri = store.put_json("references", reference)
    logger.info("run %s trained %s on %s (%d rows from %d version(s)): %s", request.run_id, spec.model_name,
                dataset.dataset_id, len(y_train), len(rows.dataset_ids), metrics)
    return ev.ModelTrained(
        model_name=spec.model_name,
        run_id=request.run_id,
        dataset_id=dataset.dataset_id,
        artifact_uri=artifact_uri,
        reference_uri=reference_uri,
        metrics=metrics,
        fairness=fairness,
        training=spec,
        code_version=settings.code_version,
        task=task,
        feature_names=[c.name for c in columns],
        class_labels=class_labels,
        parity_max_abs_diff=parity,
        trigger=request.trigger,
        sensitive_attributes=list(dataset.sensitive_attributes),
        inputs=[c.model_input() for c in columns],
        comparison=comparison,
        trials=trials,
        training_dataset_ids=rows.dataset_ids,
        training_rows=len(y_train),
        source="platform",
        consent=gate.snapshot() if gate else None,
        # the uploader of the data is the model's author, whom the registry never lets approve its promotion
        author=dataset.principal if dataset.principal.kind == ev.PRINCIPAL_KIND_USER else None,
    )


def _labels(rows: Rows, classification: bool) -> tuple[np.ndarray, np.ndarray]:
    """Training and holdout labels in one representation (whole numbers as int64, else text)."""
    if not classification:
        return rows.train.y, rows.holdout.y
    every = class_array(np.concatenate([rows.train.y, rows.holdout.y]))
    train, holdout = every[:len(rows.train.y)], every[len(rows.train.y):]
    if len(np.unique(train)) < 2:
        raise TrainingFailure("data", f"the {len(train)} training rows hold a single class; a classifier needs two")
    return train, holdout


__all__ = ["RunRequest", "TrainingFailure", "Trigger", "model_name_of", "train"]
