"""The events a drifted window turns into."""

from conveyor.events.v1 import events_pb2 as ev

from .drift import FeatureResult, WindowResult


def feature_drift(result: FeatureResult) -> ev.FeatureDrift:
    return ev.FeatureDrift(
        feature=result.feature, method=result.method, score=result.p_value, threshold=result.threshold,
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
    return event


def retrain_requested(drift: ev.DriftDetected, dataset_id: str, drifted: list[str]) -> ev.RetrainRequested:
    reason = (
        f"data drift: {len(drifted)} of {len(drift.features)} features drifted "
        f"(share {drift.drift_share:.2f} >= threshold {drift.share_threshold:.2f}) over the last "
        f"{drift.window_size} predictions of v{drift.version}: {', '.join(drifted)}"
    )
    return ev.RetrainRequested(
        model_name=drift.model_name, version=drift.version, dataset_id=dataset_id, reason=reason, drift=drift
    )
