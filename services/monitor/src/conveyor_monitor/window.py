"""Tumbling windows of live predictions, one per model (only the champion version accumulates).

State is a MutableMapping of plain JSON values: a faust Table backed by a changelog topic in the service
(so a SIGKILLed monitor resumes its half-filled windows), a dict in unit tests. Each write stores the whole
open window together with the ids of the batches already in it: after a crash faust redelivers batches
whose offsets were not committed, and a batch id already seen is skipped instead of counted twice.
The same write carries the run of consecutive drifted windows (confirm.py), so the run and the windows it
counts can never disagree after a restart.

A window is held column by column (feature -> values), the shape batches arrive in and the drift tests
read. Rewriting the open window per batch is cheap (faust encodes table values with orjson: ~0.5 ms per
batch in the profile, under 1% of the monitor's time), so the simple whole-value write stays.
"""

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from conveyor_kernel import Envelope

from .live import LiveBatch

SEEN_BATCHES = 512  # more than a window's worth of batches: redeliveries after a crash fall inside it


@dataclass
class Window:
    version: int
    rows: int = 0
    inputs: dict[str, list[Any]] = field(default_factory=dict)  # feature -> values (NaN / "" where missing)
    outputs: list[Any] = field(default_factory=list)  # predicted label (classification) or value
    attributes: dict[str, list[str]] = field(default_factory=dict)  # attribute -> values, "" where not sent
    envelopes: list[Envelope] = field(default_factory=list)  # the PredictionsLogged batches that fed it

    def extend(self, batch: LiveBatch, start: int, stop: int) -> None:
        for name, values in batch.inputs.items():
            self.inputs.setdefault(name, []).extend(values[start:stop])
        self.outputs.extend(batch.outputs[start:stop])
        for name in batch.attributes.keys() - self.attributes.keys():
            self.attributes[name] = [""] * self.rows  # an attribute first sent now: earlier rows lack it
        for name, values in self.attributes.items():
            given = batch.attributes.get(name)
            values.extend(given[start:stop] if given is not None else [""] * (stop - start))
        self.rows += stop - start


def _envelope_json(envelope: Envelope) -> list[str]:
    return [envelope.type, envelope.source, envelope.subject, envelope.id, envelope.traceparent]


def _to_json(window: Window, seen: list[str], drift_run: int) -> dict[str, Any]:
    return {
        "version": window.version, "rows": window.rows, "inputs": window.inputs, "outputs": window.outputs,
        "attributes": window.attributes, "envelopes": [_envelope_json(e) for e in window.envelopes], "seen": seen,
        "drift_run": drift_run,
    }


def _from_json(value: dict[str, Any]) -> Window:
    return Window(
        version=value["version"], rows=value["rows"],
        # copies: the window is extended in place, and the stored value must not change before commit()
        inputs={k: list(v) for k, v in value["inputs"].items()}, outputs=list(value["outputs"]),
        attributes={k: list(v) for k, v in value["attributes"].items()},
        envelopes=[Envelope(type=t, source=s, subject=j, id=i, traceparent=p) for t, s, j, i, p in value["envelopes"]],
    )


@dataclass
class Filled:
    """A batch added to a model's window, not yet written: the full windows and what commit() stores."""

    model: str
    windows: list[Window]
    drift_run: int  # consecutive drifted windows of this version before the first of `windows`
    open_window: Window
    seen: list[str]


class WindowBuffer:
    def __init__(self, size: int, state: MutableMapping[str, Any] | None = None) -> None:
        self.size = size
        self._state: MutableMapping[str, Any] = state if state is not None else {}

    def seen(self, model: str, batch_id: str) -> bool:
        value = self._state.get(model)
        return value is not None and batch_id in value["seen"]

    def add(self, model: str, version: int, batch: LiveBatch, envelope: Envelope) -> list[Window]:
        """Append a batch and store it (the drift run unchanged); return the windows it filled."""
        filled = self.fill(model, version, batch, envelope)
        self.commit(filled, filled.drift_run)
        return filled.windows

    def fill(self, model: str, version: int, batch: LiveBatch, envelope: Envelope) -> Filled:
        """Append a batch without writing; the windows it filled hold exactly `size` rows each, oldest first."""
        value = self._state.get(model)
        same = value is not None and value["version"] == version
        window = _from_json(value) if same else Window(version)
        run = int(value.get("drift_run", 0)) if same else 0
        seen = list(value["seen"]) if value is not None else []
        full: list[Window] = []
        position = 0
        while position < batch.size:
            take = min(self.size - window.rows, batch.size - position)
            window.extend(batch, position, position + take)
            window.envelopes.append(envelope)
            position += take
            if window.rows == self.size:
                full.append(window)
                window = Window(version)
        seen = (seen + [envelope.id])[-SEEN_BATCHES:]
        return Filled(model, full, run, window, seen)

    def commit(self, filled: Filled, drift_run: int) -> None:
        """One write: the open window, the batch ids and the drift run move together."""
        self._state[filled.model] = _to_json(filled.open_window, filled.seen, drift_run)

    def drift_run(self, model: str) -> int:
        value = self._state.get(model)
        return int(value.get("drift_run", 0)) if value else 0

    def reset(self, model: str) -> None:
        if model in self._state:
            del self._state[model]

    def pending(self, model: str) -> int:
        value = self._state.get(model)
        return int(value["rows"]) if value else 0
