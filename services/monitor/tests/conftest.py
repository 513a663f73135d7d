"""Test data for the monitor: a training reference and live prediction batches, undrifted or shifted."""

import numpy as np
import pytest

from conveyor.events.v1 import events_pb2 as ev

FEATURES = ["x", "y", "color"]


class Samples:
    """Deterministic data: x ~ N(0, 1), y ~ N(5, 2), color in {0,1,2}; label is x > 0. Shifted moves all three."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(20240601)

    def _draw(self, n: int, shifted: bool) -> np.ndarray:
        x = self._rng.normal(1.5 if shifted else 0.0, 1.0, n)
        y = self._rng.normal(8.0 if shifted else 5.0, 2.0, n)
        color = self._rng.choice([0, 1, 2], size=n, p=[0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2])
        return np.column_stack([x, y, color])

    def reference(self, n: int = 1000) -> dict:
        data = self._draw(n, shifted=False)
        return {
            "feature_names": FEATURES,
            "kinds": {"x": "numeric", "y": "numeric", "color": "categorical"},
            "columns": {
                "x": data[:, 0].tolist(), "y": data[:, 1].tolist(), "color": data[:, 2].astype(int).tolist()
            },
            "predictions": [int(v > 0) for v in data[:, 0]],
            "task": "classification",
            "class_labels": ["0", "1"],
        }

    def batch(
        self, model: str, version: int, n: int, shifted: bool = False, request: str = "", biased: bool = False
    ) -> ev.PredictionsLogged:
        """`request` names one request whose rows are 0..n-1 (else each row is request r<i>); every row gets a
        clinic attribute; `biased` predicts "1" for almost nobody in the south clinic."""
        data = self._draw(n, shifted)
        predictions = []
        for i, row in enumerate(data):
            clinic = "north" if i % 2 == 0 else "south"
            label = int(row[0] > 0) if not (biased and clinic == "south") else int(row[0] > 1.5)
            p1 = float(1 / (1 + np.exp(-3 * row[0])))
            predictions.append(ev.Prediction(
                request_id=request or f"r{i}", row=i if request else 0, features=row.tolist(), label=str(label),
                probabilities=[1 - p1, p1], attributes={"clinic": clinic},
            ))
        return ev.PredictionsLogged(
            model_name=model, version=version, feature_names=FEATURES, class_labels=["0", "1"],
            predictions=predictions,
        )


@pytest.fixture
def samples() -> Samples:
    return Samples()
