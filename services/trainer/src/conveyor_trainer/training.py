"""One training run, start to finish, as a plain blocking function (the handler runs it in a thread)."""

import logging
import uuid
import warnings
from dataclasses import dataclass
from enum import StrEnum

from sklearn.exceptions import ConvergenceWarning

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, tracer

from .dataset import read_frame, split
from .holdout import evaluate, fairness_gaps
from .onnx_export import export_onnx, parity_max_abs_diff
from .recipe import TrainingFailure, build_pipeline, resolve_spec
from .reference import build_reference
from .settings import TrainerSettings

logger = logging.getLogger(__name__)


class Trigger(StrEnum):
    """What started a run. The values are the wire strings of ModelTrained.trigger."""

    DATASET_ARRIVED = "dataset_arrived"
    RETRAIN_REQUESTED = "retrain_requested"


@dataclass(frozen=True)
class RunRequest:
    dataset: ev.DatasetArrived
    trigger: Trigger
    run_id: str = ""

    def with_run_id(self) -> "RunRequest":
        return self if self.run_id else RunRequest(self.dataset, self.trigger, uuid.uuid4().hex)


def model_name_of(dataset: ev.DatasetArrived) -> str:
    return dataset.training.model_name or dataset.name


def train(request: RunRequest, store: ArtifactStore, settings: TrainerSettings) -> ev.ModelTrained:
    """Return the ModelTrained to publish, or raise TrainingFailure naming the stage that failed.

    Artifacts are written only after parity passed, so a failed run leaves nothing behind.
    """
    dataset = request.dataset
    task = dataset.task
    spec = resolve_spec(dataset.training, task, dataset.name)
    frame = read_frame(store, dataset)
    data = split(frame, dataset, spec)
    with tracer.start_as_current_span("train") as span:
        span.set_attribute("conveyor.estimator", spec.estimator)
        span.set_attribute("conveyor.train_rows", len(data.x_train))
        pipeline = build_pipeline(spec, task)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # the metrics tell how good it is
                pipeline.fit(data.x_train, data.y_train)
        except (ValueError, TypeError) as exc:
            raise TrainingFailure("train", f"{spec.estimator} failed to fit: {exc}") from exc
    with tracer.start_as_current_span("evaluate"):
        metrics = evaluate(pipeline, task, data.x_holdout, data.y_holdout)
        fairness = fairness_gaps(pipeline, task, data.x_holdout, data.y_holdout, data.sensitive_holdout)
    with tracer.start_as_current_span("export onnx"):
        onnx_bytes = export_onnx(pipeline, task, len(data.feature_names), settings.onnx_opset, spec.model_name)
    with tracer.start_as_current_span("parity check") as span:
        parity = parity_max_abs_diff(
            onnx_bytes,
            pipeline,
            task,
            data.x_holdout,
            settings.parity_tolerance,
            settings.regression_parity_tolerance,
        )
        span.set_attribute("conveyor.parity_max_abs_diff", parity)
    classification = task == ev.TASK_CLASSIFICATION
    class_labels = [str(int(c)) for c in pipeline.classes_] if classification else []
    reference = build_reference(
        pipeline, list(dataset.features), task, data.x_train, class_labels, settings.reference_rows, int(spec.seed)
    )
    _, artifact_uri = store.put("models", onnx_bytes, ".onnx")
    _, reference_uri = store.put_json("references", reference)
    logger.info("run %s trained %s on %s: %s", request.run_id, spec.model_name, dataset.dataset_id, metrics)
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
        feature_names=data.feature_names,
        class_labels=class_labels,
        parity_max_abs_diff=parity,
        trigger=request.trigger,
        sensitive_attributes=list(dataset.sensitive_attributes),
    )


__all__ = ["RunRequest", "TrainingFailure", "Trigger", "model_name_of", "train"]
