"""Which topic carries which event: the one map every producer and consumer reads.

Names here are base names. The full name a client uses, test prefix included, comes from
`KafkaSettings.topic()` (and, on the in-memory bus, the base name itself): never add a prefix by hand.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.message import Message

from conveyor.events.v1 import events_pb2 as ev

DATASETS = "conveyor.datasets"
MODELS = "conveyor.models"
REGISTRY = "conveyor.registry"
# Governance: promotion requests, their gates and approvals, policy versions, risk tiers, protected aliases
# other than production. Apart from conveyor.registry so that serving (which replays that topic on boot to
# find each model's champion) never reads them; the ledger records them all.
APPROVALS = "conveyor.approvals"
DEPLOYMENTS = "conveyor.deployments"
PREDICTIONS = "conveyor.predictions"
MONITORING = "conveyor.monitoring"
RETRAIN = "conveyor.commands.retrain"
FEEDBACK = "conveyor.feedback"
DEAD_LETTER = "conveyor.deadletter"
# The audit ledger's own output. Checkpoints are NOT a lifecycle topic: the ledger issues one every N
# entries, so recording them would feed the ledger its own output forever. Report hashes are.
CHECKPOINTS = "conveyor.audit.checkpoints"
REPORTS = "conveyor.audit.reports"

LIFECYCLE = (DATASETS, MODELS, REGISTRY, APPROVALS, DEPLOYMENTS, MONITORING, RETRAIN, FEEDBACK, REPORTS)

TOPIC_OF: dict[type[Message], str] = {
    ev.DatasetArrived: DATASETS,
    ev.DatasetRejected: DATASETS,
    ev.ModelTrained: MODELS,
    ev.ModelTrainingFailed: MODELS,
    ev.ModelRegistered: REGISTRY,
    ev.ModelPromoted: REGISTRY,
    ev.PromotionDeclined: REGISTRY,
    ev.TrafficSplitSet: REGISTRY,
    ev.PolicyPublished: APPROVALS,
    ev.PromotionRequested: APPROVALS,
    ev.PromotionGatesEvaluated: APPROVALS,
    ev.PromotionApprovalRecorded: APPROVALS,
    ev.PromotionClosed: APPROVALS,
    ev.AliasMoved: APPROVALS,
    ev.RiskTierSet: APPROVALS,
    ev.ModelDeployed: DEPLOYMENTS,
    ev.PredictionsLogged: PREDICTIONS,
    ev.DriftDetected: MONITORING,
    ev.FairnessDegraded: MONITORING,
    ev.PerformanceDegraded: MONITORING,
    ev.RetrainDeferred: MONITORING,
    ev.RetrainRequested: RETRAIN,
    ev.FeedbackCollected: FEEDBACK,
    ev.CheckpointIssued: CHECKPOINTS,
    ev.ReportPublished: REPORTS,
}

EVENT_TYPES: dict[str, type[Message]] = {cls.DESCRIPTOR.full_name: cls for cls in TOPIC_OF}


def type_name(message_cls: type[Message]) -> str:
    """The CloudEvents type of an event class: its protobuf full name."""
    return message_cls.DESCRIPTOR.full_name


def named(topic: str | type[Message], prefix: str = "") -> str:
    """The full name of a topic given by base name or by an event class that travels on it."""
    return prefix + (topic if isinstance(topic, str) else TOPIC_OF[topic])


def subscribed_by(handlers: Mapping[type[Message], Any] | Iterable[type[Message]]) -> tuple[str, ...]:
    """The base names of the topics a handler table needs, derived from the events it handles."""
    return tuple(sorted({TOPIC_OF[cls] for cls in handlers}))
