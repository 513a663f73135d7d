"""What the REST API shows: each model's champion and its last evaluations (an in-memory ring)."""

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .drift import FeatureResult, WindowResult


@dataclass
class ModelHistory:
    champion_version: int
    evaluations: deque[dict[str, Any]]


@dataclass
class EvaluationHistory:
    size: int = 100
    _models: dict[str, ModelHistory] = field(default_factory=dict)

    def champion(self, model: str, version: int) -> None:
        entry = self._models.get(model)
        if entry is None:
            self._models[model] = ModelHistory(version, deque(maxlen=self.size))
        else:
            entry.champion_version = version

    def record(self, model: str, version: int, result: WindowResult, window_size: int, published: bool) -> None:
        if model not in self._models:
            self.champion(model, version)
        self._models[model].evaluations.append(
            {
                "version": version,
                "evaluated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "window_size": window_size,
                "drift_share": result.drift_share,
                "share_threshold": result.share_threshold,
                "dataset_drifted": result.dataset_drifted,
                "drifted_features": list(result.drifted_features),
                "published": published,
                "features": [_test_json(r) for r in result.features],
                "prediction_drift": _test_json(result.prediction) if result.prediction else None,
            }
        )

    def report(self, model: str) -> dict[str, Any] | None:
        """Newest evaluation first; None for a model this monitor has never seen."""
        entry = self._models.get(model)
        if entry is None:
            return None
        return {
            "model_name": model,
            "champion_version": entry.champion_version,
            "evaluations": list(reversed(entry.evaluations)),
        }


def _test_json(result: FeatureResult) -> dict[str, Any]:
    return {
        "feature": result.feature,
        "method": result.method,
        "p_value": result.p_value,
        "threshold": result.threshold,
        "drifted": result.drifted,
        "psi_decile": result.psi,
    }
