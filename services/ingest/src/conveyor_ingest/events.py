"""The spec and its outcome, as the lifecycle events other services consume."""

import json
from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.events.v1 import events_pb2 as ev

from .problems import ColumnProblem
from .spec import DatasetSpec, FeatureSpec

_KIND = {"numeric": ev.COLUMN_KIND_NUMERIC, "categorical": ev.COLUMN_KIND_CATEGORICAL,
         "boolean": ev.COLUMN_KIND_BOOLEAN}
_TASK = {"classification": ev.TASK_CLASSIFICATION, "regression": ev.TASK_REGRESSION}
_MISSING = {"median": ev.MISSING_POLICY_MEDIAN, "mean": ev.MISSING_POLICY_MEAN,
            "most_frequent": ev.MISSING_POLICY_MOST_FREQUENT, "constant": ev.MISSING_POLICY_CONSTANT,
            "reject": ev.MISSING_POLICY_REJECT}
_ENCODING = {"one_hot": ev.ENCODING_ONE_HOT, "ordinal": ev.ENCODING_ORDINAL}


@dataclass(frozen=True)
class Stored:
    """Where an accepted table went and what ingest learnt reading it."""

    dataset_id: str
    uri: str
    profile_uri: str
    rows: int
    source_format: str
    version: int
    dtypes: Mapping[str, str]
    imputed_cells: int
    ignored_columns: list[str]


def training_spec(spec: DatasetSpec) -> ev.TrainingSpec:
    options = spec.training
    retrain = options.retrain
    search = options.search
    return ev.TrainingSpec(
        model_name=options.model_name or spec.name,
        estimator=options.estimator or "",
        # The proto map holds strings; JSON keeps numbers, booleans and None distinguishable for the trainer.
        params={key: json.dumps(value) for key, value in options.params.items()},
        holdout_fraction=options.holdout_fraction,
        seed=options.seed,
        primary_metric=options.primary_metric or "",
        retrain=ev.RetrainPolicy(
            window_rows=retrain.window_rows, window_days=retrain.window_days,
            include_original=retrain.include_original, min_labels=retrain.min_labels,
            fresh_holdout_fraction=retrain.fresh_holdout_fraction,
        ),
        search=ev.SearchSpec(
            method=search.method, space={k: json.dumps(v) for k, v in search.space.items()}, cv=search.cv,
            budget=search.budget,
        ) if search else None,
    )


def feature(spec: FeatureSpec, dtype: str) -> ev.Feature:
    return ev.Feature(
        name=spec.name, kind=_KIND[spec.kind], missing=_MISSING[spec.missing or "reject"],
        fill_value="" if spec.fill_value is None else _text(spec.fill_value),
        encoding=_ENCODING[spec.encoding] if spec.encoding else ev.ENCODING_UNSPECIFIED, dtype=dtype,
    )


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def dataset_arrived(spec: DatasetSpec, stored: Stored, provenance: ev.DatasetProvenance) -> ev.DatasetArrived:
    return ev.DatasetArrived(
        dataset_id=stored.dataset_id,
        name=spec.name,
        uri=stored.uri,
        row_count=stored.rows,
        target=spec.target,
        features=[feature(f, stored.dtypes.get(f.name, "")) for f in spec.features],
        sensitive_attributes=spec.sensitive_attributes,
        subject_id_column=spec.subject_id_column or "",
        consent_basis=spec.consent_basis,
        owner=spec.owner,
        profile_uri=stored.profile_uri,
        task=_TASK[spec.task],
        training=training_spec(spec),
        source_format=stored.source_format,
        version=stored.version,
        provenance=provenance,
        ignored_columns=stored.ignored_columns,
        imputed_cells=stored.imputed_cells,
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
