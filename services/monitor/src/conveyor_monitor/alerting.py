"""Publishing what an evaluation found: the fact first, then (policy permitting) the retrain it asks for.

Each kind of fact has its own cooldown per subject (one shift, one alarm); the retrain goes through the
shared RetrainPolicy (cooldown + hourly cap per model) and then to production feedback (feedback.py): a
FeedbackCollected table of new labelled rows, or RetrainDeferred until enough labels arrive. A publish that
fails releases both, so the next degraded window tries again instead of the handler being re-run (which
would re-add the batch to the next window).
"""

import logging
from dataclasses import dataclass

from google.protobuf.message import Message

from conveyor_kernel import Publisher, TransientError

from .cooldown import CooldownGate
from .evidence import retrain_reason
from .feedback import Champion, Feedback
from .metrics import MonitorMetrics
from .outcomes import AlarmOutcome, Retrain
from .policy import RetrainPolicy

logger = logging.getLogger(__name__)


@dataclass
class Alerting:
    publisher: Publisher
    feedback: Feedback
    policy: RetrainPolicy
    gate: CooldownGate  # keyed "<kind>:<model>[:<attribute>]"
    metrics: MonitorMetrics

    def quiet(self, key: str) -> bool:
        return self.gate.cooling(key)

    async def raise_alarm(self, key: str, model: str, version: int, champion: Champion | None,
                          fact: Message) -> AlarmOutcome:
        """Publish `fact` unless its key cools down, then ask for a retrain if the policy permits."""
        if not self.gate.allow(key):
            return AlarmOutcome(Retrain.SUPPRESSED, "alarm cooldown")
        why_not = self.policy.decide(model) if champion is not None else "no champion known to collect feedback for"
        outcome = AlarmOutcome(Retrain.DECLINED, why_not or "")
        try:
            await self.publisher.publish(fact, model)
            if why_not is None and champion is not None:
                trigger, reason = retrain_reason(fact, version)
                outcome = await self.feedback.ask(champion, trigger, reason)
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
        return outcome

    def reset(self, model: str) -> None:
        """A new champion may raise its own alarms at once."""
        self.gate.reset_prefix(model)
