"""One shift, one alarm: after a drift is published, a model stays quiet for a cooldown. With a store the
cooldowns outlive a restart (adapters/throttle_db.py)."""

import time
from collections.abc import Callable
from typing import Protocol


class FiredStore(Protocol):
    def fired(self) -> dict[str, float]: ...

    def fire(self, key: str, at: float) -> None: ...

    def forget(self, keys: list[str]) -> None: ...


class CooldownGate:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.time, store: FiredStore | None = None) -> None:
        self.seconds = seconds
        self._clock = clock
        self._store = store
        self._fired_at: dict[str, float] = store.fired() if store is not None else {}

    def allow(self, model: str) -> bool:
        """True (and the cooldown starts) when the model may publish now; False while it cools down."""
        now = self._clock()
        fired_at = self._fired_at.get(model)
        if fired_at is not None and now - fired_at < self.seconds:
            return False
        self._fired_at[model] = now
        if self._store is not None:
            self._store.fire(model, now)
        return True

    def reset(self, model: str) -> None:
        """A new champion, or an alarm that never reached the broker: the next drift may publish."""
        self._forget([model] if model in self._fired_at else [])

    def reset_prefix(self, model: str) -> None:
        """Release every key of a model ("drift:m", "fairness:m:clinic", ...)."""
        self._forget([k for k in self._fired_at if k == model or k.split(":")[1:2] == [model]])

    def _forget(self, keys: list[str]) -> None:
        for key in keys:
            self._fired_at.pop(key)
        if keys and self._store is not None:
            self._store.forget(keys)

    def cooling(self, model: str) -> bool:
        fired_at = self._fired_at.get(model)
        return fired_at is not None and self._clock() - fired_at < self.seconds
