"""What became of an alarm and the retrain it asked for: a typed outcome, shown to users as one line."""

from dataclasses import dataclass
from enum import Enum


class Retrain(Enum):
    """What became of an alarm and the retrain it asks for."""

    SUPPRESSED = "suppressed"  # the alarm's key cools down: nothing published
    FAILED = "failed"  # the broker refused: nothing published, cooldown and grant released
    DECLINED = "declined"  # the fact was published; the retrain policy said no (or no champion is known)
    DEFERRED = "deferred"  # the fact and RetrainDeferred were published: the retrain waits for labelled rows
    COLLECTED = "collected"  # the fact and FeedbackCollected were published: the retrain learns from them


@dataclass(frozen=True)
class AlarmOutcome:
    retrain: Retrain
    reason: str = ""

    @property
    def published(self) -> bool:
        """Whether the fact itself went out."""
        return self.retrain in (Retrain.DECLINED, Retrain.DEFERRED, Retrain.COLLECTED)

    def __str__(self) -> str:
        """As the history and the REST responses show it: "declined: cooldown: ...", "collected: 240 rows"."""
        return f"{self.retrain.value}: {self.reason}" if self.reason else self.retrain.value


def shown(outcome: AlarmOutcome | None) -> str:
    """An outcome as users read it; "" where no alarm was raised."""
    return "" if outcome is None else str(outcome)
