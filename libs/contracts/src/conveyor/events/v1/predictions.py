"""Reading a PredictionsLogged batch whichever form it was written in: Prediction rows or PredictionColumns.

Serving writes columns (cheap to fill from arrays); readers want rows. One reader for every consumer, so
the two forms cannot drift apart, and a malformed batch is refused with the column it got wrong. Written by
hand beside the generated code: it is part of the contract (how the two forms relate), not of any service.
"""

from collections.abc import Sequence

from conveyor.events.v1 import events_pb2 as ev


class MalformedPredictions(ValueError):
    """The batch's columns contradict each other; the message names the column."""


def prediction_rows(batch: ev.PredictionsLogged) -> Sequence[ev.Prediction]:
    """The batch's predictions as Prediction messages; raise MalformedPredictions if its columns disagree in length."""
    if not batch.HasField("columns"):
        return batch.predictions
    if batch.predictions:
        raise MalformedPredictions("PredictionsLogged holds both predictions and columns; write one form")
    columns = batch.columns
    rows = columns.rows
    # string-valued inputs are in text_features, not features: the numeric width is what is left
    numeric = len([n for n in batch.feature_names if n not in columns.text_features])
    width = _width(len(columns.features), rows, numeric, "features")
    classes = _width(len(columns.probabilities), rows, len(batch.class_labels), "probabilities")
    for name, column in (("request_ids", columns.request_ids), ("request_rows", columns.request_rows),
                         ("timestamps_ms", columns.timestamps_ms)):
        _exactly(name, len(column), rows)
    for name, column in (("labels", columns.labels), ("values", columns.values)):
        if column:
            _exactly(name, len(column), rows)
    for name, attribute in columns.attributes.items():
        _exactly(f"attributes[{name!r}]", len(attribute.values), rows)
    for name, text in columns.text_features.items():
        _exactly(f"text_features[{name!r}]", len(text.values), rows)
    attributes = {name: attribute.values for name, attribute in columns.attributes.items()}
    texts = {name: text.values for name, text in columns.text_features.items()}
    out = []
    for i in range(rows):
        prediction = ev.Prediction(
            request_id=columns.request_ids[i], row=columns.request_rows[i], timestamp_ms=columns.timestamps_ms[i],
            features=columns.features[i * width:(i + 1) * width],
            probabilities=columns.probabilities[i * classes:(i + 1) * classes],
            attributes={name: values[i] for name, values in attributes.items() if values[i]},
            text_features={name: values[i] for name, values in texts.items()},  # "" (missing) kept: it is a value
        )
        if columns.labels:
            prediction.label = columns.labels[i]
        if columns.values:
            prediction.value = columns.values[i]
        out.append(prediction)
    return out


def _exactly(name: str, length: int, rows: int) -> None:
    if length != rows:
        raise MalformedPredictions(f"PredictionColumns.{name} has {length} entries for {rows} rows")


def _width(length: int, rows: int, declared: int, name: str) -> int:
    """Values per row of a row-major matrix column: the declared width, or what the length implies."""
    if rows <= 0:
        if length:
            raise MalformedPredictions(f"PredictionColumns.{name} has {length} values but rows is {rows}")
        return declared
    width = declared or length // rows
    if length not in (0, rows * width):  # an undeclared width that does not divide fails here too
        raise MalformedPredictions(
            f"PredictionColumns.{name} has {length} values; {rows} rows of {declared or 'equal'} need {rows * width}"
        )
    return width if length else 0
