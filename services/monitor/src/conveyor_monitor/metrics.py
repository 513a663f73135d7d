"""Prometheus metrics of the monitor, on a registry the app owns (no global state at import)."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

PREDICTIONS_CONSUMED = "conveyor_monitor_predictions_consumed"
WINDOWS_EVALUATED = "conveyor_monitor_windows_evaluated"
DRIFT_EVENTS = "conveyor_monitor_drift_events"
ALARMS = "conveyor_monitor_alarms"
RETRAINS_DECLINED = "conveyor_monitor_retrains_declined"
LABELS_JOINED = "conveyor_monitor_labels_joined"


@dataclass(frozen=True)
class MonitorMetrics:
    predictions_consumed: Counter
    windows_evaluated: Counter
    drift_events: Counter
    alarms: Counter
    retrains_declined: Counter
    labels_joined: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "MonitorMetrics":
        return cls(
            predictions_consumed=Counter(
                PREDICTIONS_CONSUMED, "Predictions of the champion version added to a window",
                ["model"], registry=registry,
            ),
            windows_evaluated=Counter(
                WINDOWS_EVALUATED, "Full windows compared with the reference", ["model", "drifted"],
                registry=registry,
            ),
            drift_events=Counter(
                DRIFT_EVENTS, "DriftDetected events published (cooldown-suppressed ones are not)", ["model"],
                registry=registry,
            ),
            alarms=Counter(ALARMS, "Degradation facts published, by event type", ["model", "event"], registry=registry),
            retrains_declined=Counter(
                RETRAINS_DECLINED, "Alarms whose retrain the policy declined (cooldown or hourly cap)", ["model"],
                registry=registry,
            ),
            labels_joined=Counter(LABELS_JOINED, "Late labels joined to a logged prediction", ["model"],
                                  registry=registry),
        )
