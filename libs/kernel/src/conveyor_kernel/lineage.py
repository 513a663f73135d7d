"""OpenLineage run events for the lifecycle facts that are lineage: a dataset version arrived (ingest), a
model was trained from dataset versions (trainer), a version was promoted, rolled back or declined
(registry), a version was deployed (serving). Pure: `run_event(event, envelope)` builds the openlineage-python
event, or None for an event that is not lineage; `_lineage_emit.py` sends it.

Names that join across jobs: a dataset version is (conveyor.datasets, its content id), a model artifact is
(conveyor.models, its artifact URI), so Marquez draws ingest -> trainer -> registry -> serving as one graph.
No raw subject id can appear: these events carry none (the subject id column's name, never its values).
"""

import uuid
from typing import Any

import attr
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    data_quality_metrics_dataset,
    dataset_version_dataset,
    documentation_dataset,
    job_type_job,
    ownership_dataset,
    schema_dataset,
)

from conveyor.events.v1 import events_pb2 as ev

from ._envelope import Envelope

NAMESPACE = "conveyor"
DATASETS = "conveyor.datasets"
MODELS = "conveyor.models"
FACETS = "https://github.com/conveyor-ml/conveyor/blob/main/docs/lineage.md#"
PRODUCES_LINEAGE = (ev.DatasetArrived, ev.ModelTrained, ev.ModelPromoted, ev.PromotionDeclined, ev.ModelDeployed)


@attr.define
class HyperparametersRunFacet(RunFacet):
    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}HyperparametersRunFacet"

    estimator: str = ""
    params: dict[str, str] = attr.field(factory=dict)
    primaryMetric: str = ""  # noqa: N815 - OpenLineage facets are camelCase
    seed: int = 0


@attr.define
class EvaluationRunFacet(RunFacet):
    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}EvaluationRunFacet"

    metrics: dict[str, float] = attr.field(factory=dict)
    fairness: list[dict[str, Any]] = attr.field(factory=list)
    parityMaxAbsDiff: float = 0.0  # noqa: N815
    trainingRows: int = 0  # noqa: N815


@attr.define
class ConsentSnapshotRunFacet(RunFacet):
    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}ConsentSnapshotRunFacet"

    purpose: str = ""
    digest: str = ""
    subjects: int = 0
    includedRows: int = 0  # noqa: N815
    excludedRows: int = 0  # noqa: N815
    excludedSubjects: int = 0  # noqa: N815
    asOfMs: int = 0  # noqa: N815


@attr.define
class PromotionDecisionRunFacet(RunFacet):
    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}PromotionDecisionRunFacet"

    decision: str = ""  # promote | rollback | declined
    model: str = ""
    version: int = 0
    previousVersion: int = 0  # noqa: N815
    approvedBy: str = ""  # noqa: N815
    reasons: list[str] = attr.field(factory=list)
    principal: str = ""


@attr.define
class DeploymentRunFacet(RunFacet):
    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS}DeploymentRunFacet"

    model: str = ""
    version: int = 0
    instance: str = ""
    loadSeconds: float = 0.0  # noqa: N815


def _run_id(job: str, key: str) -> str:
    """Derived, so a redelivered event yields the same run (consumers deduplicate on it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"conveyor-lineage/{job}/{key}"))


def _model(uri: str, model: str, version: int = 0) -> dict[str, Any]:
    facets: dict[str, Any] = {"documentation": documentation_dataset.DocumentationDatasetFacet(
        description=f"model {model}" + (f" version {version}" if version else "") + " (ONNX)")}
    if version:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version))
    return {"namespace": MODELS, "name": uri, "facets": facets}


def _job(name: str, kind: str) -> Job:
    return Job(namespace=NAMESPACE, name=name, facets={"jobType": job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration="CONVEYOR", jobType=kind)})


def _dataset_arrived(e: ev.DatasetArrived) -> tuple[str, str, list[InputDataset], list[OutputDataset], dict]:
    fields = [schema_dataset.SchemaDatasetFacetFields(name=f.name, type=f.dtype or None,
                                                      description=ev.ColumnKind.Name(f.kind).lower())
              for f in e.features]
    if e.target:
        fields.append(schema_dataset.SchemaDatasetFacetFields(name=e.target, description="target"))
    facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(fields=fields),
        "dataQualityMetrics": data_quality_metrics_dataset.DataQualityMetricsDatasetFacet(
            rowCount=e.row_count, columnMetrics={}),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(e.version or 1)),
        "documentation": documentation_dataset.DocumentationDatasetFacet(
            description=f"dataset {e.name} version {e.version or 1} ({e.source_format or 'csv'}); consent basis "
                        f"{e.consent_basis or 'not stated'}; {e.imputed_cells} cells to impute"),
    }
    if e.owner:
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=f"user:{e.owner}", type="OWNER")])
    output = OutputDataset(namespace=DATASETS, name=e.dataset_id, facets=facets)
    return f"ingest.{e.name}", e.dataset_id, [], [output], {}


def _model_trained(e: ev.ModelTrained) -> tuple[str, str, list[InputDataset], list[OutputDataset], dict]:
    ids = list(e.training_dataset_ids) or ([e.dataset_id] if e.dataset_id else [])
    inputs = [InputDataset(namespace=DATASETS, name=i) for i in ids]
    outputs = [OutputDataset(**_model(e.artifact_uri, e.model_name))] if e.artifact_uri else []
    spec = e.training
    run = {
        "hyperparameters": HyperparametersRunFacet(estimator=spec.estimator, params=dict(spec.params),
                                                   primaryMetric=spec.primary_metric, seed=spec.seed),
        "evaluation": EvaluationRunFacet(metrics=dict(e.metrics), trainingRows=e.training_rows,
                                         fairness=[MessageToDict(f) for f in e.fairness],
                                         parityMaxAbsDiff=e.parity_max_abs_diff),
    }
    if e.HasField("consent"):
        c = e.consent
        run["consentSnapshot"] = ConsentSnapshotRunFacet(
            purpose=c.purpose, digest=c.digest, subjects=c.subjects, includedRows=c.included_rows,
            excludedRows=c.excluded_rows, excludedSubjects=c.excluded_subjects, asOfMs=c.as_of_ms)
    return f"trainer.{e.model_name}", e.run_id, inputs, outputs, run


def _promoted(e: ev.ModelPromoted) -> tuple[str, str, list[InputDataset], list[OutputDataset], dict]:
    decision = PromotionDecisionRunFacet(decision=e.action or "promote", model=e.model_name, version=e.version,
                                         previousVersion=e.previous_version, approvedBy=e.approved_by,
                                         reasons=list(e.reasons), principal=e.principal.subject)
    inputs = [InputDataset(**_model(e.artifact_uri, e.model_name, e.version))] if e.artifact_uri else []
    return f"registry.{e.model_name}", f"{e.version}/{e.action}", inputs, [], {"promotionDecision": decision}


def _declined(e: ev.PromotionDeclined) -> tuple[str, str, list[InputDataset], list[OutputDataset], dict]:
    decision = PromotionDecisionRunFacet(decision="declined", model=e.model_name, version=e.version,
                                         previousVersion=e.champion_version, reasons=list(e.reasons),
                                         principal=e.principal.subject)
    return f"registry.{e.model_name}", f"{e.version}/declined", [], [], {"promotionDecision": decision}


def _deployed(e: ev.ModelDeployed) -> tuple[str, str, list[InputDataset], list[OutputDataset], dict]:
    facet = DeploymentRunFacet(model=e.model_name, version=e.version, instance=e.instance,
                               loadSeconds=e.load_seconds)
    inputs = [InputDataset(**_model(e.artifact_uri, e.model_name, e.version))] if e.artifact_uri else []
    return f"serving.{e.model_name}", f"{e.version}/{e.instance}", inputs, [], {"deployment": facet}


MAPPERS: dict[type[Message], Any] = {ev.DatasetArrived: _dataset_arrived, ev.ModelTrained: _model_trained,
                                     ev.ModelPromoted: _promoted, ev.PromotionDeclined: _declined,
                                     ev.ModelDeployed: _deployed}
JOB_TYPES = {ev.DatasetArrived: "INGEST", ev.ModelTrained: "TRAINING", ev.ModelPromoted: "PROMOTION",
             ev.PromotionDeclined: "PROMOTION", ev.ModelDeployed: "DEPLOYMENT"}


def run_event(event: Message, envelope: Envelope) -> RunEvent | None:
    """The COMPLETE run event for a lineage fact (the Conveyor event announces a finished step)."""
    mapper = MAPPERS.get(type(event))
    if mapper is None:
        return None
    job, key, inputs, outputs, run_facets = mapper(event)
    return RunEvent(eventType=RunState.COMPLETE, eventTime=envelope.time, run=Run(runId=_run_id(job, key),
                                                                                   facets=run_facets),
                    job=_job(job, JOB_TYPES[type(event)]), inputs=inputs, outputs=outputs,
                    producer=f"https://github.com/conveyor-ml/conveyor/tree/main/services/{envelope.source}")
