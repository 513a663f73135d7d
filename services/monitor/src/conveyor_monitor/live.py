"""Turns a PredictionsLogged batch into rows in the reference's feature order, or says what is wrong."""

import math
from collections.abc import Sequence
from typing import Any

from conveyor.events.v1 import events_pb2 as ev
from conveyor.events.v1.predictions import MalformedPredictions, prediction_rows
from conveyor_kernel import InvalidMessage

from .reference import Reference


def predictions_of(batch: ev.PredictionsLogged) -> Sequence[ev.Prediction]:
    """The batch's rows, whichever form it was written in; a malformed batch can never succeed."""
    try:
        return prediction_rows(batch)
    except MalformedPredictions as exc:
        raise InvalidMessage(str(exc)) from exc


def attributes_of(batch: ev.PredictionsLogged) -> list[dict[str, str]]:
    """Each prediction's sensitive attributes (from the request's parameters.attributes), as plain dicts."""
    return [dict(prediction.attributes) for prediction in predictions_of(batch)]


def rows_of(batch: ev.PredictionsLogged, reference: Reference) -> tuple[list[list[float]], list[Any]]:
    """Feature rows ordered like reference.feature_names, and each prediction's output."""
    logged = list(batch.feature_names) or list(reference.feature_names)
    missing = [n for n in reference.feature_names if n not in logged]
    if missing:
        raise InvalidMessage(
            f"PredictionsLogged for {batch.model_name} v{batch.version} lacks feature(s) {', '.join(missing)} "
            f"that the reference has; log feature_names in the model's feature order"
        )
    index = [logged.index(n) for n in reference.feature_names]
    rows: list[list[float]] = []
    outputs: list[Any] = []
    for prediction in predictions_of(batch):
        if len(prediction.features) != len(logged):
            raise InvalidMessage(
                f"prediction {prediction.request_id!r} has {len(prediction.features)} features, "
                f"feature_names has {len(logged)}"
            )
        row = [prediction.features[i] for i in index]
        if not all(math.isfinite(v) for v in row):
            raise InvalidMessage(f"prediction {prediction.request_id!r} has a NaN or infinite feature value")
        rows.append(row)
        outputs.append(prediction.value if reference.task == "regression" else prediction.label)
    return rows, outputs
