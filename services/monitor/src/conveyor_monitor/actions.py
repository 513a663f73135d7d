"""Publishing what an evaluation found: the fact first, then (policy permitting) the retrain command.

Each kind of fact has its own cooldown per subject (one shift, one alarm); the retrain command goes
through the shared RetrainPolicy (cooldown + hourly cap per model). A publish that fails releases both,
so the next degraded window tries again instead of the handler being re-run (which would re-add the
batch to the next window).
"""

import logging
from dataclasses import dataclass

from google.protobuf.message import Message

from conveyor_kernel import Publisher, TransientError

from .alarms import retrain_requested
from .cooldown import CooldownGate
from .metrics import MonitorMetrics
from .policy import RetrainPolicy

logger = logging.getLogger(__name__)


@dataclass
class Actions:
    publisher: Publisher
    policy: RetrainPolicy
    gate: CooldownGate  # keyed "<kind>:<model>[:<attribute>]"
    metrics: MonitorMetrics

    def quiet(self, key: str) -> bool:
        return self.gate.cooling(key)

    async def raise_alarm(self, key: str, model: str, version: int, dataset_id: str, fact: Message) -> str:
        """Publish `fact` unless its key cools down; returns what happened to the retrain request."""
        if not self.gate.allow(key):
            return "suppressed: alarm cooldown"
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
            return "failed: broker unavailable"
        self.metrics.alarms.labels(model, type(fact).__name__).inc()
        if key.startswith("drift:"):
            self.metrics.drift_events.labels(model).inc()
        if why_not is not None:
            logger.info("retrain of %s not requested after %s: %s", model, type(fact).__name__, why_not)
            self.metrics.retrains_declined.labels(model).inc()
            return f"declined: {why_not}"
        return "requested"

    def reset(self, model: str) -> None:
        """A new champion may raise its own alarms at once."""
        self.gate.reset_prefix(model)
