"""Translation between wire events and table rows, with the validation a ModelTrained must pass."""

from typing import Any

from google.protobuf.json_format import MessageToDict, ParseDict

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import InvalidMessage

from .tables import Action, ModelVersion, RegisteredModel


def task_name(task: int) -> str:
    """TASK_CLASSIFICATION → "classification"."""
    return ev.Task.Name(task).removeprefix("TASK_").lower()


def task_enum(name: str) -> int:
    return ev.Task.Value("TASK_" + name.upper())


def version_from_trained(event: ev.ModelTrained) -> ModelVersion:
    """A candidate row (version not yet numbered) or InvalidMessage naming the bad field."""
    for field in ("model_name", "run_id", "dataset_id", "artifact_uri"):
        if not getattr(event, field):
            raise InvalidMessage(f"ModelTrained.{field} is empty; the trainer must set it")
    if event.task == ev.TASK_UNSPECIFIED:
        raise InvalidMessage("ModelTrained.task is TASK_UNSPECIFIED; set classification or regression")
    metric = event.training.primary_metric
    if not metric:
        raise InvalidMessage("ModelTrained.training.primary_metric is empty; name the metric the policy compares")
    if metric not in event.metrics:
        have = ", ".join(sorted(event.metrics)) or "none"
        raise InvalidMessage(f"ModelTrained.metrics lacks the primary metric {metric!r} (has: {have})")
    spec = event.training
    return ModelVersion(
        model_name=event.model_name,
        version=0,
        run_id=event.run_id,
        dataset_id=event.dataset_id,
        artifact_uri=event.artifact_uri,
        reference_uri=event.reference_uri,
        metrics=dict(event.metrics),
        fairness=[
            {
                "attribute": gap.attribute,
                "demographic_parity_difference": gap.demographic_parity_difference,
                "equalized_odds_difference": gap.equalized_odds_difference,
                "selection_rate": dict(gap.selection_rate),
            }
            for gap in event.fairness
        ],
        training={
            "model_name": spec.model_name,
            "estimator": spec.estimator,
            "params": dict(spec.params),
            "holdout_fraction": spec.holdout_fraction,
            "seed": spec.seed,
            "primary_metric": spec.primary_metric,
            "retrain": _plain(spec.retrain),
            "search": _plain(spec.search),
        },
        code_version=event.code_version,
        feature_names=list(event.feature_names),
        class_labels=list(event.class_labels),
        sensitive_attributes=list(event.sensitive_attributes),
        inputs=[{"name": i.name, "datatype": i.datatype, "kind": ev.ColumnKind.Name(i.kind)} for i in event.inputs],
        comparison=_plain(event.comparison) if event.HasField("comparison") else {},
        source=event.source or "platform",
        trigger=event.trigger,
        training_dataset_ids=list(event.training_dataset_ids),
        training_rows=event.training_rows,
        primary_metric=metric,
        author=_author(event),
    )


def _author(event: ev.ModelTrained) -> str:
    """The person the model is by: ModelTrained.author, else a person who published it themselves."""
    for who in (event.author, event.principal):
        if who.kind == ev.PRINCIPAL_KIND_USER and who.subject:
            return who.subject
    return ""


def _plain(message: Any) -> dict[str, Any]:
    """A part of an event as the JSON column keeps it: field names as in the proto, defaults included."""
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def registered_event(row: ModelVersion) -> ev.ModelRegistered:
    return ev.ModelRegistered(
        model_name=row.model_name,
        version=row.version,
        run_id=row.run_id,
        dataset_id=row.dataset_id,
        artifact_uri=row.artifact_uri,
        metrics=row.metrics,
    )


def promoted_event(
    model: RegisteredModel,
    row: ModelVersion,
    previous_version: int | None,
    action: Action,
    approved_by: str,
    reasons: list[str],
) -> ev.ModelPromoted:
    return ev.ModelPromoted(
        model_name=row.model_name,
        version=row.version,
        previous_version=previous_version or 0,
        artifact_uri=row.artifact_uri,
        reference_uri=row.reference_uri,
        reasons=reasons,
        approved_by=approved_by,
        action=action,
        dataset_id=row.dataset_id,
        feature_names=row.feature_names,
        sensitive_attributes=row.sensitive_attributes,
        task=task_enum(model.task),
        retrain=retrain_policy(row),
        inputs=[ev.ModelInput(name=i["name"], datatype=i["datatype"], kind=ev.ColumnKind.Value(i["kind"]))
                for i in row.inputs],
    )


def retrain_policy(row: ModelVersion) -> ev.RetrainPolicy:
    return ParseDict(row.training.get("retrain") or {}, ev.RetrainPolicy(), ignore_unknown_fields=True)


def declined_event(row: ModelVersion, champion_version: int, reasons: list[str]) -> ev.PromotionDeclined:
    return ev.PromotionDeclined(
        model_name=row.model_name, version=row.version, champion_version=champion_version, reasons=reasons
    )


def alias_moved_event(model_name: str, alias: str, version: int, previous: int | None, request_id: str,
                      policy_digest: str) -> ev.AliasMoved:
    return ev.AliasMoved(model_name=model_name, alias=alias, version=version, previous_version=previous or 0,
                         request_id=request_id, policy_digest=policy_digest)
