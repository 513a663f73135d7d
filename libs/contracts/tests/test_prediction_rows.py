"""prediction_rows: one reader for both forms of PredictionsLogged."""

import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor.events.v1.predictions import MalformedPredictions, prediction_rows

ROWS = [
    ev.Prediction(request_id="a", row=0, features=[1.0, 2.0], label="1", probabilities=[0.25, 0.75],
                  timestamp_ms=5, attributes={"clinic": "north"}),
    ev.Prediction(request_id="a", row=1, features=[3.0, 4.0], label="0", probabilities=[0.5, 0.5], timestamp_ms=5,
                  attributes={"clinic": "south"}),
    ev.Prediction(request_id="b", row=0, features=[5.0, 6.0], label="1", probabilities=[0.0, 1.0], timestamp_ms=7),
]


def columnar() -> ev.PredictionsLogged:
    return ev.PredictionsLogged(
        model_name="m", version=1, feature_names=["x", "y"], class_labels=["0", "1"],
        columns=ev.PredictionColumns(
            rows=3, features=[1, 2, 3, 4, 5, 6], request_ids=["a", "a", "b"], request_rows=[0, 1, 0],
            timestamps_ms=[5, 5, 7], labels=["1", "0", "1"], probabilities=[0.25, 0.75, 0.5, 0.5, 0.0, 1.0],
            attributes={"clinic": ev.AttributeColumn(values=["north", "south", ""])},
        ),
    )


def test_columns_read_as_the_rows_they_encode():
    assert list(prediction_rows(columnar())) == ROWS


def test_row_batches_are_returned_as_they_are():
    batch = ev.PredictionsLogged(model_name="m", version=1, predictions=ROWS)
    assert list(prediction_rows(batch)) == ROWS


def test_regression_values_come_through():
    batch = ev.PredictionsLogged(feature_names=["x"], columns=ev.PredictionColumns(
        rows=2, features=[1, 2], request_ids=["r", "r"], request_rows=[0, 1], timestamps_ms=[1, 1], values=[0.5, 1.5]))
    assert [(p.row, p.value, list(p.features)) for p in prediction_rows(batch)] == [(0, 0.5, [1.0]), (1, 1.5, [2.0])]


def text_columns() -> ev.PredictionsLogged:
    """A per-column model: `city` is a string input, so features holds only x and y (NaN for a gap)."""
    return ev.PredictionsLogged(feature_names=["x", "city", "y"], class_labels=["0", "1"], columns=ev.PredictionColumns(
        rows=2, features=[1.0, float("nan"), 3.0, 4.0], request_ids=["r", "r"], request_rows=[0, 1],
        timestamps_ms=[1, 1], labels=["1", "0"],
        text_features={"city": ev.AttributeColumn(values=["north", ""])}))


def test_text_features_come_through_per_row_and_leave_the_numeric_width_to_the_rest():
    rows = prediction_rows(text_columns())
    assert [dict(p.text_features) for p in rows] == [{"city": "north"}, {"city": ""}]
    assert list(rows[1].features) == [3.0, 4.0]
    assert rows[0].features[0] == 1.0 and rows[0].features[1] != rows[0].features[1]  # NaN: a missing value


def test_a_short_text_column_is_refused_naming_it():
    batch = text_columns()
    batch.columns.text_features["city"].values.pop()
    with pytest.raises(MalformedPredictions, match=r"text_features\['city'\] has 1 entries for 2 rows"):
        prediction_rows(batch)


@pytest.mark.parametrize(("change", "named"), [
    (lambda c: c.request_ids.pop(), "request_ids has 2 entries for 3 rows"),
    (lambda c: c.features.pop(), "features has 5 values"),
    (lambda c: c.labels.append("1"), "labels has 4 entries"),
    (lambda c: c.probabilities.pop(), "probabilities has 5 values"),
    (lambda c: c.attributes["clinic"].values.pop(), "attributes['clinic'] has 2 entries"),
])
def test_columns_that_disagree_are_refused_naming_the_column(change, named):
    batch = columnar()
    change(batch.columns)
    with pytest.raises(MalformedPredictions, match=named.replace("[", r"\[").replace("]", r"\]")):
        prediction_rows(batch)


def test_a_batch_in_both_forms_is_refused():
    batch = columnar()
    batch.predictions.extend(ROWS)
    with pytest.raises(MalformedPredictions, match="both"):
        prediction_rows(batch)
