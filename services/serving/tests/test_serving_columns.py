"""Named per-column inputs: a table pipeline exported whole takes raw values, one OIP input per column."""

import math

import numpy as np
import pandas as pd
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor.events.v1.predictions import prediction_rows
from conveyor_serving.binding import MISSING_TEXT

COLUMN_TYPES = {"age": "FP32", "income": "FP64", "visits": "INT64", "member": "BOOL", "city": "BYTES", "plan": "BYTES"}
COLUMNS = list(COLUMN_TYPES)


def _json(value):
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, str) and value == MISSING_TEXT:
        return None  # a missing string: null, which serving turns into the missing marker ""
    return value.item() if isinstance(value, np.generic) else value


def _v2(table: pd.DataFrame, flat: bool = True, **extra) -> dict:
    inputs = [{"name": c, "datatype": COLUMN_TYPES[c], "shape": [len(table)] if flat else [len(table), 1],
               "data": [_json(v) for v in table[c].tolist()] if flat else [[_json(v)] for v in table[c].tolist()]}
              for c in COLUMNS]
    return {"inputs": inputs, **extra}


@pytest.fixture
def table(serving, models):
    assert models.columns.types == COLUMN_TYPES  # the model conftest builds is the one these tests describe
    serving.promote("table", 1, models.columns.uri, feature_names=COLUMNS)
    return serving


def test_metadata_lists_one_input_per_column_read_from_the_graph(table):
    metadata = table.client.get("/v2/models/table").json()
    assert metadata["inputs"] == [{"name": c, "datatype": COLUMN_TYPES[c], "shape": [-1, 1]} for c in COLUMNS]
    assert metadata["parameters"]["feature_names"] == COLUMNS


@pytest.mark.parametrize("flat", [True, False], ids=["shape [N]", "shape [N, 1]"])
def test_columns_with_gaps_and_an_unseen_category_match_the_pipeline(table, models, flat):
    holdout = models.columns.holdout
    answer = table.client.post("/v2/models/table/infer", json=_v2(holdout, flat))

    assert answer.status_code == 200, answer.text
    label, probabilities = answer.json()["outputs"]
    assert label["data"] == models.columns.pipeline.predict(holdout).tolist()
    np.testing.assert_allclose(probabilities["data"], models.columns.pipeline.predict_proba(holdout).ravel(),
                               atol=1e-5)


def test_v1_instances_as_objects(table, models):
    holdout = models.columns.holdout
    instances = [{c: _json(v) for c, v in row.items()} for row in holdout.to_dict("records")]

    answer = table.client.post("/v1/models/table:predict", json={"instances": instances})

    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == models.columns.pipeline.predict(holdout).tolist()
    np.testing.assert_allclose(answer.json()["probabilities"], models.columns.pipeline.predict_proba(holdout),
                               atol=1e-5)
    positional = [[row[c] for c in COLUMNS] for row in instances]
    by_position = table.client.post("/v1/models/table:predict", json={"instances": positional})
    assert by_position.json()["predictions"] == answer.json()["predictions"]


def test_the_log_carries_text_columns_and_numbers_with_nan_for_gaps(make_serving, models):
    holdout = models.columns.holdout
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("table", 1, models.columns.uri, feature_names=COLUMNS)
        assert harness.client.post("/v2/models/table/infer", json=_v2(holdout, id="t-1")).status_code == 200
    (event,) = harness.bus.events(ev.PredictionsLogged)

    assert list(event.feature_names) == COLUMNS
    assert sorted(event.columns.text_features) == ["city", "plan"]
    assert list(event.columns.text_features["city"].values) == holdout["city"].tolist()  # "" where missing
    numeric = ["age", "income", "visits", "member"]
    expected = holdout[numeric].to_numpy(dtype=np.float64)
    np.testing.assert_allclose(np.asarray(event.columns.features).reshape(len(holdout), 4), expected, rtol=1e-6)
    rows = prediction_rows(event)
    assert [dict(p.text_features) for p in rows[:2]] == [
        {"city": holdout["city"][i], "plan": holdout["plan"][i]} for i in range(2)]
    assert math.isnan(rows[0].features[0])  # age is missing in row 0 (every 7th row)
    assert [p.label for p in rows] == [str(v) for v in models.columns.pipeline.predict(holdout)]


def test_text_class_labels_are_served_and_logged_as_text(make_serving, models):
    holdout = models.columns.holdout
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("worded", 1, models.columns.worded_uri, feature_names=COLUMNS)
        answer = harness.client.post("/v2/models/worded/infer", json=_v2(holdout))
        v1 = harness.client.post("/v1/models/worded:predict",
                                 json={"instances": [{c: _json(v) for c, v in row.items()}
                                                     for row in holdout.to_dict("records")]})
    expected = models.columns.worded.predict(holdout).tolist()
    label = answer.json()["outputs"][0]
    assert (label["datatype"], label["data"]) == ("BYTES", expected)
    assert v1.json()["predictions"] == expected
    (event,) = harness.bus.events(ev.PredictionsLogged)
    assert [p.label for p in prediction_rows(event)] == expected * 2  # the v2 request's rows, then V1's
    assert list(event.class_labels) == ["no", "yes"]


def _with(body: dict, column: str, **changes) -> dict:
    for tensor in body["inputs"]:
        if tensor["name"] == column:
            tensor.update(changes)
    return body


BAD = {
    "a column missing": (lambda b: {"inputs": b["inputs"][1:]}, "missing input(s) ['age']"),
    "an unknown column": (lambda b: {"inputs": [*b["inputs"], {**b["inputs"][0], "name": "agee"}]},
                          "unknown input(s) ['agee']"),
    "strings for a number": (lambda b: _with(b, "income", datatype="BYTES", data=["x"] * 12),
                             "input 'income': the model takes FP64, the request sends BYTES"),
    "numbers for a string": (lambda b: _with(b, "city", data=[1] * 12), "element 0 is 1; send strings"),
    "numbers declared BYTES for text": (lambda b: _with(b, "city", datatype="INT64", data=[1] * 12),
                                        "the model takes BYTES, the request sends INT64"),
    "null in an integer column": (lambda b: _with(b, "visits", data=[None] + [1] * 11), "cannot carry a missing"),
    "fractions for integers": (lambda b: _with(b, "visits", datatype="FP64", data=[1.5] * 12),
                               "takes int64 integers but the FP64 data holds non-integers"),
    "rows that disagree": (lambda b: _with(b, "plan", shape=[11], data=["basic"] * 11),
                           "input 'plan' has 11 rows but input 'age' has 12"),
    "two values per row": (lambda b: _with(b, "plan", shape=[6, 2]), "shape [6, 2] is not one column"),
    "numbers for booleans": (lambda b: _with(b, "member", datatype="INT64", data=[1] * 12), "the model takes BOOL"),
    "too large for FP32": (lambda b: _with(b, "age", data=[1e39] * 12), "infinite values"),
}


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # the 1e39 case, on purpose
@pytest.mark.parametrize("case", list(BAD))
def test_bad_column_requests_are_a_400_naming_the_column(table, models, case):
    change, expected = BAD[case]
    body = change(_v2(models.columns.holdout))
    answer = table.client.post("/v2/models/table/infer", json=body)
    assert answer.status_code == 400, answer.text
    assert expected in answer.json()["error"]


def test_v1_objects_missing_a_column_are_a_400(table, models):
    instance = {c: 1 for c in COLUMNS if c != "plan"}
    answer = table.client.post("/v1/models/table:predict", json={"instances": [instance]})
    assert answer.status_code == 400
    assert "instances[0]: no value for ['plan'] (send null for a missing value)" in answer.json()["error"]


def test_a_model_whose_inputs_are_not_the_feature_names_is_refused(serving, models):
    serving.promote("table", 1, models.columns.uri, feature_names=["age", "income"])
    (dead,) = serving.dead_letter_reasons()
    assert "are not the feature_names" in dead and "inputs not in feature_names ['city', 'member'" in dead
