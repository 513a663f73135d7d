"""Which topic carries which event. The one map every producer and consumer reads."""

from google.protobuf.message import Message

from conveyor.events.v1 import events_pb2 as ev

DATASETS = "conveyor.datasets"
MODELS = "conveyor.models"
REGISTRY = "conveyor.registry"
DEPLOYMENTS = "conveyor.deployments"
PREDICTIONS = "conveyor.predictions"
MONITORING = "conveyor.monitoring"
RETRAIN = "conveyor.commands.retrain"
DEAD_LETTER = "conveyor.deadletter"
# The audit ledger's own output. Checkpoints are NOT a lifecycle topic: the ledger issues one every N
# entries, so recording them would feed the ledger its own output forever. Report hashes are.
CHECKPOINTS = "conveyor.audit.checkpoints"
REPORTS = "conveyor.audit.reports"

LIFECYCLE_TOPICS = (DATASETS, MODELS, REGISTRY, DEPLOYMENTS, MONITORING, RETRAIN, REPORTS)

TOPIC_OF: dict[type[Message], str] = {
    ev.DatasetArrived: DATASETS,
    ev.DatasetRejected: DATASETS,
    ev.ModelTrained: MODELS,
    ev.ModelTrainingFailed: MODELS,
    ev.ModelRegistered: REGISTRY,
    ev.ModelPromoted: REGISTRY,
    ev.PromotionDeclined: REGISTRY,
    ev.TrafficSplitSet: REGISTRY,
    ev.ModelDeployed: DEPLOYMENTS,
    ev.PredictionsLogged: PREDICTIONS,
    ev.DriftDetected: MONITORING,
    ev.FairnessDegraded: MONITORING,
    ev.PerformanceDegraded: MONITORING,
    ev.RetrainRequested: RETRAIN,
    ev.CheckpointIssued: CHECKPOINTS,
    ev.ReportPublished: REPORTS,
}

EVENT_TYPES: dict[str, type[Message]] = {cls.DESCRIPTOR.full_name: cls for cls in TOPIC_OF}


def type_name(message_cls: type[Message]) -> str:
    return message_cls.DESCRIPTOR.full_name


def topic_for(message_cls: type[Message], prefix: str = "") -> str:
    return prefix + TOPIC_OF[message_cls]
