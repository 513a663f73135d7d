"""Drift statistics: pure functions of a reference sample and a live window, no I/O, no Kafka.

Per feature a two-sample test decides (KS for numeric, chi-square for categorical); PSI over the
reference deciles is reported beside KS as an effect size, because with large windows a p-value alone
flags shifts too small to matter and a reader wants to see how big the shift is.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

NUMERIC = "numeric"
CATEGORICAL = "categorical"
# Keeps empty bins from turning PSI into infinity; the usual choice in PSI implementations.
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class FeatureResult:
    feature: str
    method: str  # "ks" | "chi2"
    p_value: float
    threshold: float
    drifted: bool
    psi: float | None = None  # numeric features only


@dataclass(frozen=True)
class WindowResult:
    features: list[FeatureResult]
    drift_share: float
    share_threshold: float
    dataset_drifted: bool
    prediction: FeatureResult | None = None
    drifted_features: list[str] = field(default_factory=list)


def category_of(value: object) -> str:
    """One spelling per category: 1, 1.0 and "1" are the same integer-coded category."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def ks_test(feature: str, reference: Sequence[float], current: Sequence[float], threshold: float) -> FeatureResult:
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    p_value = float(stats.ks_2samp(ref, cur).pvalue)
    return FeatureResult(feature, "ks", p_value, threshold, p_value < threshold, psi_decile(ref, cur))


def chi2_test(feature: str, reference: Sequence[object], current: Sequence[object], threshold: float) -> FeatureResult:
    ref = [category_of(v) for v in reference]
    cur = [category_of(v) for v in current]
    categories = sorted(set(ref) | set(cur))
    if len(categories) < 2:
        # One category on both sides: the distributions are identical, nothing to test.
        return FeatureResult(feature, "chi2", 1.0, threshold, False)
    table = np.array([[ref.count(c) for c in categories], [cur.count(c) for c in categories]])
    p_value = float(stats.chi2_contingency(table).pvalue)
    return FeatureResult(feature, "chi2", p_value, threshold, p_value < threshold)


def psi_decile(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index over the reference's deciles (ties collapse duplicate edges)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    ref_share = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    cur_share = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1) / len(cur)
    ref_share = np.clip(ref_share, PSI_EPSILON, None)
    cur_share = np.clip(cur_share, PSI_EPSILON, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def drift_share(results: Sequence[FeatureResult]) -> float:
    if not results:
        return 0.0
    return sum(r.drifted for r in results) / len(results)


def compare_feature(
    feature: str, kind: str, reference: Sequence[object], current: Sequence[object], threshold: float
) -> FeatureResult:
    if kind == CATEGORICAL:
        return chi2_test(feature, reference, current, threshold)
    return ks_test(feature, reference, current, threshold)  # type: ignore[arg-type]


def evaluate_window(
    kinds: dict[str, str],
    reference: dict[str, Sequence[object]],
    current: dict[str, Sequence[object]],
    p_threshold: float,
    share_threshold: float,
    reference_predictions: Sequence[object] = (),
    current_predictions: Sequence[object] = (),
    prediction_kind: str = CATEGORICAL,
) -> WindowResult:
    """Compare every feature in `kinds`; the dataset drifted when the drifted share reaches the threshold."""
    results = [
        compare_feature(name, kind, reference[name], current[name], p_threshold) for name, kind in kinds.items()
    ]
    share = drift_share(results)
    prediction = None
    if len(reference_predictions) and len(current_predictions):
        prediction = compare_feature(
            "prediction", prediction_kind, reference_predictions, current_predictions, p_threshold
        )
    return WindowResult(
        features=results,
        drift_share=share,
        share_threshold=share_threshold,
        dataset_drifted=bool(results) and share >= share_threshold,
        prediction=prediction,
        drifted_features=[r.feature for r in results if r.drifted],
    )
