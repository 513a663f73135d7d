"""Tumbling windows of live predictions, one per model (only the champion version accumulates).

Kept in memory, not in a faust table: a window is up to `window_size` rows of every feature, and a
changelog record per prediction would cost more than losing a partly filled window on restart.
"""

from dataclasses import dataclass, field
from typing import Any

from conveyor_kernel import Envelope


@dataclass
class Window:
    version: int
    rows: list[list[float]] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)  # predicted label (classification) or value
    envelopes: list[Envelope] = field(default_factory=list)  # the PredictionsLogged batches that fed it


class WindowBuffer:
    def __init__(self, size: int) -> None:
        self.size = size
        self._open: dict[str, Window] = {}

    def add(
        self, model: str, version: int, rows: list[list[float]], outputs: list[Any], envelope: Envelope
    ) -> list[Window]:
        """Append a batch; return the windows it filled (exactly `size` rows each), oldest first."""
        window = self._open.get(model)
        if window is None or window.version != version:
            window = self._open[model] = Window(version)
        full: list[Window] = []
        position = 0
        while position < len(rows):
            take = min(self.size - len(window.rows), len(rows) - position)
            window.rows.extend(rows[position : position + take])
            window.outputs.extend(outputs[position : position + take])
            window.envelopes.append(envelope)
            position += take
            if len(window.rows) == self.size:
                full.append(window)
                window = self._open[model] = Window(version)
        return full

    def reset(self, model: str) -> None:
        self._open.pop(model, None)

    def pending(self, model: str) -> int:
        window = self._open.get(model)
        return len(window.rows) if window else 0
