"""Retraining without storms: per model, a cooldown between requests and a cap per rolling hour.

Drift, fairness and performance alarms all ask through the same policy, so three kinds of evidence
about one bad deployment cost one retrain, not three. With a store the grants outlive a restart.
"""

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

HOUR = 3600.0


class GrantStore(Protocol):
    def grants(self, since: float) -> dict[str, list[float]]: ...

    def grant(self, model: str, at: float) -> None: ...

    def revoke(self, model: str, at: float) -> None: ...


class RetrainPolicy:
    def __init__(
        self, cooldown_seconds: float, max_per_hour: int, clock: Callable[[], float] = time.time,
        store: GrantStore | None = None,
    ) -> None:
        self.cooldown_seconds = cooldown_seconds
        self.max_per_hour = max_per_hour
        self._clock = clock
        self._store = store
        known = store.grants(since=clock() - HOUR) if store is not None else {}
        self._granted: dict[str, deque[float]] = {model: deque(times) for model, times in known.items()}

    def decide(self, model: str) -> str | None:
        """None (and the grant is counted) when a retrain may be requested now; else why not."""
        now = self._clock()
        granted = self._granted.setdefault(model, deque())
        while granted and now - granted[0] >= HOUR:
            granted.popleft()
        if granted and now - granted[-1] < self.cooldown_seconds:
            return f"cooldown: last retrain request {now - granted[-1]:.0f} s ago (< {self.cooldown_seconds:.0f} s)"
        if len(granted) >= self.max_per_hour:
            return f"cap: {len(granted)} retrain requests in the last hour (max {self.max_per_hour})"
        granted.append(now)
        if self._store is not None:
            self._store.grant(model, now)
        return None

    def release(self, model: str) -> None:
        """The request never reached the broker: it does not count."""
        granted = self._granted.get(model)
        if granted:
            at = granted.pop()
            if self._store is not None:
                self._store.revoke(model, at)
