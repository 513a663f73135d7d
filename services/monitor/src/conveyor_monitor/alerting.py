"""Publishing what an evaluation found: the fact first, then (policy permitting) the retrain command.

Each kind of fact has its own cooldown per subject (one shift, one alarm); the retrain command goes
through the shared RetrainPolicy (cooldown + hourly cap per model). A publish that fails releases both,
so the next degraded window tries again instead of the handler being re-run (which would re-add the
batch to the next window).
"""

import logging
from dataclasses import dataclass
from enum import Enum

from google.protobuf.message import Message

from conveyor_kernel import Publisher, TransientError

from .cooldown import CooldownGate
from .evidence import retrain_requested
from .metrics import MonitorMetrics
from .policy import RetrainPolicy

logger = logging.getLogger(__name__)


class Retrain(Enum):
    """What became of an alarm and the retrain it asks for."""

    SUPPRESSED = "suppressed"  # the alarm's key cools down: nothing published
    FAILED = "failed"  # the broker refused: nothing published, cooldown and grant released
    DECLINED = "declined"  # the fact was published; the retrain policy said no
    REQUESTED = "requested"  # the fact and RetrainRequested were published


@dataclass(frozen=True)
class AlarmOutcome:
    retrain: Retrain
    reason: str = ""

    @property
    def published(self) -> bool:
        """Whether the fact itself went out."""
        return self.retrain in (Retrain.DECLINED, Retrain.REQUESTED)

    def __str__(self) -> str:
        """As the history and the REST responses show it: "declined: cooldown: ...", "requested"."""
        return f"{self.retrain.value}: {self.reason}" if self.reason else self.retrain.value


def shown(outcome: AlarmOutcome | None) -> str:
    """An outcome as users read it; "" where no alarm was raised."""
    return "" if outcome is None else str(outcome)


@dataclass
class Alerting:
    publisher: Publisher
    policy: RetrainPolicy
    gate: CooldownGate  # keyed "<kind>:<model>[:<attribute>]"
    metrics: MonitorMetrics

    def quiet(self, key: str) -> bool:
        return self.gate.cooling(key)

    async def raise_alarm(self, key: str, model: str, version: int, dataset_id: str, fact: Message) -> AlarmOutcome:
        """Publish `fact` unless its key cools down, then ask for a retrain if the policy permits."""
        if not self.gate.allow(key):
            return AlarmOutcome(Retrain.SUPPRESSED, "alarm cooldown")
        why_not = self.policy.decide(model)
        try:
            await self.publisher.publish(fact, model)
            if why_not is None:
                await self.publisher.publish(retrain_requested(model, version, dataset_id, fact), model)
        except TransientError:
            self.gate.reset(key)
            if why_not is None:
                self.policy.release(model)
            logger.exception("could not publish %s for %s v%d; the next window retries", key, model, version)
            return AlarmOutcome(Retrain.FAILED, "broker unavailable")
        self.metrics.alarms.labels(model, type(fact).__name__).inc()
        if key.startswith("drift:"):
            self.metrics.drift_events.labels(model).inc()
        if why_not is not None:
            logger.info("retrain of %s not requested after %s: %s", model, type(fact).__name__, why_not)
            self.metrics.retrains_declined.labels(model).inc()
            return AlarmOutcome(Retrain.DECLINED, why_not)
        return AlarmOutcome(Retrain.REQUESTED)

    def reset(self, model: str) -> None:
        """A new champion may raise its own alarms at once."""
        self.gate.reset_prefix(model)
