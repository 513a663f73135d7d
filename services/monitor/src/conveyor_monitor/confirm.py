"""When a drifted window becomes an alarm: after `windows` consecutive drifted windows of one champion.

The per-window verdict keeps Evidently's rule (drifted share >= 0.5, or the PCA band). With 30 strongly
correlated features that verdict comes out drifted by chance about once in 5,000 undrifted windows; asking
for two in a row makes a chance alarm about that rare squared, while a real shift, which drifts every window
after it began, costs one window of delay. A non-drifted window ends the run; a new champion starts it anew
(its window state is reset). The run is stored with the open window, so it survives a restart with it.
The service and bench/monitor.py both count alarms with this class.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DriftConfirmation:
    windows: int = 2

    def __post_init__(self) -> None:
        if self.windows < 1:
            raise ValueError(f"drift_confirm_windows must be at least 1, got {self.windows}")

    def step(self, run: int, drifted: bool) -> int:
        """The run of consecutive drifted windows after one more window's verdict."""
        return run + 1 if drifted else 0

    def alarms(self, run: int) -> bool:
        """Raise the dataset-level alarm (cooldown permitting) while the run is long enough."""
        return run >= self.windows
