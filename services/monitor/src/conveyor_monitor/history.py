"""What the REST API shows: each model's champion, its last evaluations, and time series per version.

In-memory rings (bounded): the audit ledger, not the monitor, is the durable record of what happened.
"""

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .drift import FeatureResult, WindowResult
from .fairness import FairnessResult
from .outcomes import AlarmOutcome, shown
from .performance import Scored

SERIES = ("drift", "fairness", "performance")


class ModelUnknown(LookupError):  # noqa: N818 - names what the client asked for
    """No ModelPromoted for the model has reached this monitor."""

    def __init__(self, name: str) -> None:
        super().__init__(f"model {name!r} is unknown to the monitor: no ModelPromoted for it has been seen; "
                         "check the name (path parameter 'name') or promote a version first")


@dataclass
class ModelHistory:
    champion_version: int
    evaluations: deque[dict[str, Any]]
    series: dict[str, deque[dict[str, Any]]]


@dataclass
class EvaluationHistory:
    size: int = 100
    _models: dict[str, ModelHistory] = field(default_factory=dict)

    def champion(self, model: str, version: int) -> None:
        entry = self._models.get(model)
        if entry is None:
            self._models[model] = ModelHistory(
                version, deque(maxlen=self.size), {k: deque(maxlen=self.size * 10) for k in SERIES}
            )
        else:
            entry.champion_version = version

    def _entry(self, model: str, version: int) -> ModelHistory:
        if model not in self._models:
            self.champion(model, version)
        return self._models[model]

    def record(
        self, model: str, version: int, result: WindowResult, window_size: int, published: bool,
        fairness: list[FairnessResult] | None = None, retrain: AlarmOutcome | None = None, drift_run: int = 0,
        alarm: bool = False,
    ) -> None:
        """`dataset_drifted` is the window's own verdict; `alarm` says whether the confirmation rule raised
        the dataset-level alarm on it (`published`: whether DriftDetected went out, cooldown permitting)."""
        entry = self._entry(model, version)
        at = _now()
        entry.evaluations.append(
            {
                "version": version,
                "evaluated_at": at,
                "window_size": window_size,
                "drift_share": result.drift_share,
                "share_threshold": result.share_threshold,
                "dataset_drifted": result.dataset_drifted,
                "drift_run": drift_run,
                "alarm": alarm,
                "drifted_features": list(result.drifted_features),
                "published": published,
                "retrain": shown(retrain),  # the text the API has always shown
                "features": [_test_json(r) for r in result.features],
                "prediction_drift": _test_json(result.prediction) if result.prediction else None,
                "multivariate": _test_json(result.multivariate) if result.multivariate else None,
                "fairness": [f.as_json() for f in fairness or []],
            }
        )
        entry.series["drift"].append(
            {
                "at": at, "version": version, "drift_share": result.drift_share,
                "dataset_drifted": result.dataset_drifted, "drift_run": drift_run, "alarm": alarm,
                "published": published,
                "prediction_score": result.prediction.score if result.prediction else None,
                "multivariate_error": result.multivariate.score if result.multivariate else None,
            }
        )
        for f in fairness or []:
            entry.series["fairness"].append(
                {"at": at, "version": version, "attribute": f.attribute, "difference": f.difference,
                 "ratio": f.ratio, "degraded": f.degraded}
            )

    def record_performance(self, scored: Scored, degraded: list[str]) -> None:
        entry = self._entry(scored.model, scored.version)
        entry.series["performance"].append(
            {"at": _now(), "version": scored.version, "window_size": scored.size, "metrics": scored.metrics,
             "equalized_odds": scored.equalized_odds, "degraded": degraded}
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

    def series(self, model: str, kind: str, version: int | None = None) -> list[dict[str, Any]] | None:
        """Oldest point first (a chart's order); None for an unknown model."""
        entry = self._models.get(model)
        if entry is None:
            return None
        return [p for p in entry.series[kind] if version is None or p["version"] == version]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _test_json(result: FeatureResult) -> dict[str, Any]:
    return {
        "feature": result.feature,
        "method": result.method,
        "score": result.score,
        "threshold": result.threshold,
        "drifted": result.drifted,
        "psi_reference_deciles": result.psi,
    }
