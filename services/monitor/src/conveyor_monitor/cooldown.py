"""One shift, one alarm: after a drift is published, a model stays quiet for a cooldown."""

import time
from collections.abc import Callable


class CooldownGate:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._fired_at: dict[str, float] = {}

    def allow(self, model: str) -> bool:
        """True (and the cooldown starts) when the model may publish now; False while it cools down."""
        now = self._clock()
        fired_at = self._fired_at.get(model)
        if fired_at is not None and now - fired_at < self.seconds:
            return False
        self._fired_at[model] = now
        return True

    def reset(self, model: str) -> None:
        """A new champion, or an alarm that never reached the broker: the next drift may publish."""
        self._fired_at.pop(model, None)

    def reset_prefix(self, model: str) -> None:
        """Release every key of a model ("drift:m", "fairness:m:clinic", ...)."""
        for key in [k for k in self._fired_at if k == model or k.split(":")[1:2] == [model]]:
            self._fired_at.pop(key)

    def cooling(self, model: str) -> bool:
        fired_at = self._fired_at.get(model)
        return fired_at is not None and self._clock() - fired_at < self.seconds
