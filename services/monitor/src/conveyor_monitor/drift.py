"""Drift of a live window against the reference: pure functions, no I/O, no Kafka.

Each column gets the method Evidently 0.7 would choose (see stattests) unless one is named; the dataset
drifted when the drifted share of columns reaches the share threshold. The classic decile PSI rides along
for numeric columns as an effect size a reader can compare across windows.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from .stattests import CATEGORICAL, METHODS, NUMERIC, as_sample, default_method, psi_reference_deciles

__all__ = ["CATEGORICAL", "NUMERIC", "FeatureResult", "WindowResult", "compare_column", "evaluate_window"]


@dataclass(frozen=True)
class FeatureResult:
    feature: str
    method: str
    score: float
    threshold: float
    drifted: bool
    psi: float | None = None  # psi_reference_deciles, numeric columns only


@dataclass(frozen=True)
class WindowResult:
    features: list[FeatureResult]
    drift_share: float
    share_threshold: float
    dataset_drifted: bool
    prediction: FeatureResult | None = None
    drifted_features: list[str] = field(default_factory=list)
    multivariate: FeatureResult | None = None


def compare_column(
    feature: str,
    kind: str,
    reference: Sequence[object],
    current: Sequence[object],
    method: str | None = None,
    threshold: float | None = None,
) -> FeatureResult:
    """`method` None picks Evidently's default; `threshold` None takes the method's default."""
    ref = as_sample(reference, kind)
    cur = as_sample(current, kind)
    name = method or default_method(ref, cur, kind)
    chosen = METHODS[name]
    limit = chosen.default_threshold if threshold is None else threshold
    score = chosen.score(ref, cur, kind)
    psi = psi_reference_deciles(ref, cur, kind) if kind == NUMERIC else None
    return FeatureResult(feature, name, score, limit, chosen.drifted(score, limit), psi)


def drift_share(results: Sequence[FeatureResult]) -> float:
    if not results:
        return 0.0
    return sum(r.drifted for r in results) / len(results)


def evaluate_window(
    kinds: dict[str, str],
    reference: dict[str, Sequence[object]],
    current: dict[str, Sequence[object]],
    share_threshold: float = 0.5,
    reference_predictions: Sequence[object] = (),
    current_predictions: Sequence[object] = (),
    prediction_kind: str = CATEGORICAL,
    method: str | None = None,
) -> WindowResult:
    """Compare every column in `kinds`; the dataset drifted when the drifted share reaches the threshold."""
    results = [compare_column(name, kind, reference[name], current[name], method) for name, kind in kinds.items()]
    share = drift_share(results)
    prediction = None
    if len(reference_predictions) and len(current_predictions):
        # Output drift: the model's answers moved, whatever the inputs did.
        prediction = compare_column("prediction", prediction_kind, reference_predictions, current_predictions)
    return WindowResult(
        features=results,
        drift_share=share,
        share_threshold=share_threshold,
        dataset_drifted=bool(results) and share >= share_threshold,
        prediction=prediction,
        drifted_features=[r.feature for r in results if r.drifted],
    )
