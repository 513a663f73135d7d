"""The spec and its outcome, as the lifecycle events other services consume."""

import json

from conveyor.events.v1 import events_pb2 as ev

from .problems import ColumnProblem
from .spec import DatasetSpec

_KIND = {"numeric": ev.COLUMN_KIND_NUMERIC, "categorical": ev.COLUMN_KIND_CATEGORICAL}
_TASK = {"classification": ev.TASK_CLASSIFICATION, "regression": ev.TASK_REGRESSION}


def training_spec(spec: DatasetSpec) -> ev.TrainingSpec:
    options = spec.training
    return ev.TrainingSpec(
        model_name=options.model_name or spec.name,
        estimator=options.estimator,
        # The proto map holds strings; JSON keeps numbers, booleans and None distinguishable for the trainer.
        params={key: json.dumps(value) for key, value in options.params.items()},
        holdout_fraction=options.holdout_fraction,
        seed=options.seed,
        primary_metric=options.primary_metric or "",
    )


def dataset_arrived(
    spec: DatasetSpec, dataset_id: str, uri: str, profile_uri: str, rows: int, source_format: str
) -> ev.DatasetArrived:
    return ev.DatasetArrived(
        dataset_id=dataset_id,
        name=spec.name,
        uri=uri,
        row_count=rows,
        target=spec.target,
        features=[ev.Feature(name=f.name, kind=_KIND[f.kind]) for f in spec.features],
        sensitive_attributes=spec.sensitive_attributes,
        subject_id_column=spec.subject_id_column or "",
        consent_basis=spec.consent_basis,
        owner=spec.owner,
        profile_uri=profile_uri,
        task=_TASK[spec.task],
        training=training_spec(spec),
        source_format=source_format,
    )


def dataset_rejected(
    spec: DatasetSpec, problems: list[ColumnProblem], content_sha256: str
) -> ev.DatasetRejected:
    return ev.DatasetRejected(
        name=spec.name,
        owner=spec.owner,
        errors=[ev.ColumnError(column=p.column, reason=p.reason) for p in problems],
        content_sha256=content_sha256,
    )
