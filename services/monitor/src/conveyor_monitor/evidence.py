"""The events an evaluated window turns into, each carrying its evidence."""

from conveyor.events.v1 import events_pb2 as ev

from .drift import FeatureResult, WindowResult
from .fairness import FairnessResult
from .performance import Scored


def feature_drift(result: FeatureResult) -> ev.FeatureDrift:
    return ev.FeatureDrift(
        feature=result.feature, method=result.method, score=result.score, threshold=result.threshold,
        drifted=result.drifted,
    )


def drift_detected(model: str, version: int, result: WindowResult, window_size: int) -> ev.DriftDetected:
    event = ev.DriftDetected(
        model_name=model,
        version=version,
        features=[feature_drift(r) for r in result.features],
        drift_share=result.drift_share,
        share_threshold=result.share_threshold,
        window_size=window_size,
    )
    if result.prediction is not None:
        event.prediction_drift.CopyFrom(feature_drift(result.prediction))
    if result.multivariate is not None:
        event.multivariate.CopyFrom(feature_drift(result.multivariate))
    return event


def fairness_degraded(model: str, version: int, result: FairnessResult, window_size: int) -> ev.FairnessDegraded:
    return ev.FairnessDegraded(
        model_name=model, version=version, attribute=result.attribute, positive_label=result.positive_label,
        selection_rate=result.selection_rate, group_size=result.group_size,
        demographic_parity_difference=result.difference, demographic_parity_ratio=result.ratio,
        four_fifths_violated=result.four_fifths_violated, difference_threshold=result.difference_threshold,
        p_value=result.p_value, window_size=window_size,
    )


def performance_degraded(
    scored: Scored, baseline: dict[str, float], fell: list[str], tolerance: float
) -> ev.PerformanceDegraded:
    return ev.PerformanceDegraded(
        model_name=scored.model, version=scored.version, metrics=scored.metrics, baseline=baseline,
        degraded=fell, tolerance=tolerance, window_size=scored.size,
        equalized_odds=[
            ev.FairnessGap(attribute=a, equalized_odds_difference=gap) for a, gap in scored.equalized_odds.items()
        ],
    )


def retrain_reason(
    evidence: ev.DriftDetected | ev.FairnessDegraded | ev.PerformanceDegraded, version: int
) -> tuple[str, str]:
    """(trigger, reason) of the retrain an alarm asks for: the reason names the evidence with its numbers."""
    if isinstance(evidence, ev.DriftDetected):
        drifted = [f.feature for f in evidence.features if f.drifted]
        return "drift", (
            f"data drift: {len(drifted)} of {len(evidence.features)} features drifted "
            f"(share {evidence.drift_share:.2f} >= threshold {evidence.share_threshold:.2f}) over the last "
            f"{evidence.window_size} predictions of v{version}: {', '.join(drifted) or 'multivariate only'}"
        )
    if isinstance(evidence, ev.FairnessDegraded):
        return "fairness", (
            f"fairness: demographic parity difference {evidence.demographic_parity_difference:.3f}, ratio "
            f"{evidence.demographic_parity_ratio:.3f} across {evidence.attribute} over the last "
            f"{evidence.window_size} predictions of v{version} (chi-square p={evidence.p_value:.2g})"
        )
    live = ", ".join(f"{m} {evidence.metrics[m]:.3f} vs {evidence.baseline[m]:.3f}" for m in evidence.degraded)
    return "performance", f"performance: {live} on the last {evidence.window_size} labelled predictions of v{version}"
