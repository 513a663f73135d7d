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
# Consent records, keyed "<subject_ref>/<purpose>" and compacted: what the topic retains is the current state.
CONSENT = "conveyor.consent"
# OpenLineage run events, written by OpenLineage's own Kafka transport (JSON, not protobuf): no event class
# travels here, so it is granted per service by `EventRuntime(writes=...)`, and the ledger does not read it.
OPENLINEAGE = "conveyor.openlineage"
# The audit ledger's own output. Checkpoints are NOT a lifecycle topic: the ledger issues one every N
# entries, so recording them would feed the ledger its own output forever. Report hashes are.
CHECKPOINTS = "conveyor.audit.checkpoints"
REPORTS = "conveyor.audit.reports"

LIFECYCLE = (DATASETS, MODELS, REGISTRY, APPROVALS, DEPLOYMENTS, MONITORING, RETRAIN, FEEDBACK, REPORTS,
             CONSENT)

# How long Kafka keeps each topic follows what it holds (docs/topics.md). Lifecycle topics are facts other
# services rebuild state from (serving replays conveyor.registry at every start) and small: kept forever.
# They are not compacted: one key (the model name) carries several event types on one topic, so compaction
# would keep a model's last PromotionDeclined and drop the ModelPromoted that made its champion. Prediction
# logs are high volume and read once by the monitor: bounded by time and by size (KafkaSettings).
FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
DAY_MS = 86_400_000
RETENTION: dict[str, dict[str, str]] = {
    **{name: FOREVER for name in (*LIFECYCLE, CHECKPOINTS)},
    # consent records keyed "<subject_ref>/<purpose>": compaction keeps each subject's current state per purpose
    CONSENT: {"cleanup.policy": "compact"},
    OPENLINEAGE: {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},  # lineage servers read it live
    PREDICTIONS: {"cleanup.policy": "delete"},  # retention.ms and retention.bytes: KafkaSettings.predictions_*
    DEAD_LETTER: {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},  # a month to look at refusals
}

TOPIC_OF: dict[type[Message], str] = {
    ev.DatasetArrived: DATASETS,
    ev.DatasetRejected: DATASETS,
    ev.ModelTrained: MODELS,
    ev.ModelTrainingFailed: MODELS,
    ev.ModelRegistered: REGISTRY,
    ev.ModelPromoted: REGISTRY,
    ev.PromotionDeclined: REGISTRY,
    ev.TrafficSplitSet: REGISTRY,
    ev.ModelVersionFlagged: REGISTRY,
    ev.ConsentChanged: CONSENT,
    ev.DatasetErased: DATASETS,
    ev.ErasureCompleted: CONSENT,
    ev.TrainingRunsFlagged: MODELS,
    ev.FactsDeclared: REPORTS,
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


def every_topic() -> tuple[str, ...]:
    """Base names of every topic the platform creates."""
    return tuple(RETENTION)


def type_name(message_cls: type[Message]) -> str:
    """The CloudEvents type of an event class: its protobuf full name."""
    return message_cls.DESCRIPTOR.full_name


def named(topic: str | type[Message], prefix: str = "") -> str:
    """The full name of a topic given by base name or by an event class that travels on it."""
    return prefix + (topic if isinstance(topic, str) else TOPIC_OF[topic])


def subscribed_by(handlers: Mapping[type[Message], Any] | Iterable[type[Message]]) -> tuple[str, ...]:
    """The base names of the topics a handler table needs, derived from the events it handles."""
    return tuple(sorted({TOPIC_OF[cls] for cls in handlers}))
