"""Real tables in, as a data scientist meets them (issue 11): public data with text categories, text class
labels, gaps and columns the model must not use; and a spec whose mistakes are caught at upload."""

import copy
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest.settings import IngestSettings
from conveyor_ingest.wiring import create_app
from conveyor_kernel.callers import signed
from conveyor_kernel.memory import InMemoryBus

FAIR_SPEC = {
    "name": "fair", "target": "had_affair", "task": "classification",
    "features": [
        {"name": "rate_marriage", "kind": "numeric"}, {"name": "age", "kind": "numeric"},
        {"name": "yrs_married", "kind": "numeric"}, {"name": "children", "kind": "numeric"},
        {"name": "religious", "kind": "numeric"}, {"name": "educ", "kind": "numeric"},
        {"name": "occupation", "kind": "categorical"},
        {"name": "occupation_husb", "kind": "categorical", "encoding": "ordinal"},
    ],
    "ignore": ["affairs"],  # the count the label is made from: it would leak the answer
    "consent_basis": "public_task", "owner": "survey@conveyor.example",
}
PIMA_SPEC = {
    "name": "pima", "target": "type",
    "features": [{"name": c, "kind": "numeric"} for c in ("npreg", "glu", "bp", "skin", "bmi", "ped", "age")],
    "consent_basis": "public_task", "owner": "clinic@conveyor.example",
}


@pytest.fixture
def bus() -> InMemoryBus:
    return InMemoryBus(source="ingest")


@pytest.fixture
def client(tmp_path, bus):
    with signed(TestClient(create_app(IngestSettings(data_dir=tmp_path), transport=bus))) as test_client:
        yield test_client


def post(client, frame, spec: dict, filename: str = "table.csv"):
    return client.post("/datasets", files={"file": (filename, frame.to_csv(index=False).encode(), "text/csv")},
                       data={"spec": json.dumps(spec)})


def test_fair_with_text_categories_gaps_and_an_ignored_column_is_accepted(client, bus, fair_frame):
    response = post(client, fair_frame, FAIR_SPEC)
    assert response.status_code == 201, response.text
    [event] = bus.events(ev.DatasetArrived)
    features = {f.name: f for f in event.features}
    occupation = features["occupation"]
    assert (occupation.kind, occupation.dtype, occupation.encoding) == (
        ev.COLUMN_KIND_CATEGORICAL, "string", ev.ENCODING_ONE_HOT)
    assert occupation.missing == ev.MISSING_POLICY_MOST_FREQUENT
    assert (features["age"].dtype, features["age"].missing) == ("float64", ev.MISSING_POLICY_MEDIAN)
    assert (features["occupation_husb"].dtype, features["occupation_husb"].encoding) == ("int64",
                                                                                        ev.ENCODING_ORDINAL)
    gaps = int(fair_frame["occupation"].isna().sum() + fair_frame["age"].isna().sum())
    assert event.imputed_cells == gaps > 0
    assert list(event.ignored_columns) == ["affairs"]
    assert (event.version, event.provenance.kind) == (1, "upload")
    profile = client.get(f"/datasets/{event.dataset_id}").json()["profile"]
    assert profile["imputed_cells"] == gaps
    assert profile["columns"]["occupation"]["imputed"] == int(fair_frame["occupation"].isna().sum())
    assert set(profile["target_distribution"]) == {"yes", "no"}


def test_pima_with_yes_no_labels_and_gaps_is_accepted(client, bus, pima_frame):
    response = post(client, pima_frame, PIMA_SPEC)
    assert response.status_code == 201, response.text
    [event] = bus.events(ev.DatasetArrived)
    assert event.imputed_cells == int(pima_frame.isna().sum().sum()) == 114
    assert event.training.estimator == "logistic_regression"


def test_an_unused_column_is_named_with_the_fix(client, fair_frame):
    spec = {**FAIR_SPEC, "ignore": []}
    response = post(client, fair_frame, spec)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["column"] == "affairs" and "or ignore" in error["reason"]


def test_rejecting_gaps_is_a_declared_choice(client, pima_frame):
    spec = copy.deepcopy(PIMA_SPEC)
    spec["features"][3]["missing"] = "reject"  # skin
    response = post(client, pima_frame, spec)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["column"] == "skin" and "98 missing value(s)" in error["reason"]


def test_boolean_features_take_words_or_bits(client, bus, pima_frame):
    spec = copy.deepcopy(PIMA_SPEC)
    spec["features"].append({"name": "pregnant_before", "kind": "boolean"})
    frame = pima_frame.assign(pregnant_before=np.where(pima_frame["npreg"] > 0, "yes", "no"))
    frame.loc[4, "pregnant_before"] = None
    assert post(client, frame, spec).status_code == 201
    assert {f.name: f.dtype for f in bus.events(ev.DatasetArrived)[0].features}["pregnant_before"] == "bool"
    frame.loc[5, "pregnant_before"] = "maybe"
    response = post(client, frame, spec)
    assert response.status_code == 422
    assert "['maybe']" in response.json()["errors"][0]["reason"]


SPEC_MISTAKES = [
    ({"training": {"primary_metric": "mape"}}, "training.primary_metric",
     "'mape' is not measured for classification (mape is a regression metric); use one of accuracy"),
    ({"training": {"primary_metric": "auc"}}, "training.primary_metric", "roc_auc"),
    ({"training": {"estimator": "random_forest", "params": {"n_trees": 10}}}, "training.params.n_trees",
     "RandomForestClassifier takes no parameter 'n_trees'; it takes"),
    ({"training": {"params": {"C": -1}}}, "training.params", "'C' parameter of LogisticRegression"),
    ({"task": "regression", "target": "glu", "training": {"estimator": "logistic_regression"}},
     "training.estimator", "logistic_regression does not do regression; use one of linear_regression, ridge"),
    ({"training": {"search": {"method": "grid", "space": {"C": [0.1, 1, 10], "tol": [1e-4, 1e-3]}, "budget": 4}}},
     "training.search.budget", "the grid has 6 candidates but the budget is 4"),
    ({"training": {"search": {"method": "random", "space": {"depth": [1, 2]}}}}, "training.search.space.depth",
     "takes no parameter 'depth'"),
    ({"training": {"estimator": "gradient_boosting",
                   "search": {"method": "grid", "space": {"learning_rate": [0.1, -3]}}}},
     "training.search.space.learning_rate", "candidate -3"),
]


@pytest.mark.parametrize(("change", "field", "fragment"), SPEC_MISTAKES)
def test_a_spec_that_cannot_train_is_refused_at_upload(client, bus, pima_frame, change, field, fragment):
    spec = copy.deepcopy(PIMA_SPEC)
    training = change.pop("training", {})
    spec.update(change)
    spec["features"] = [f for f in spec["features"] if f["name"] != spec["target"]]
    spec["training"] = training
    response = post(client, pima_frame.drop(columns=["type"]) if spec["target"] != "type" else pima_frame, spec)
    assert response.status_code == 422, response.text
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert fragment in errors[field], errors
    assert bus.records == []  # nothing was read, stored or announced


@pytest.mark.parametrize(("feature", "fragment"), [
    ({"name": "glu", "kind": "categorical", "missing": "median"}, "'median' needs numbers"),
    ({"name": "glu", "kind": "numeric", "missing": "constant"}, "needs a fill_value"),
    ({"name": "glu", "kind": "numeric", "missing": "constant", "fill_value": "lots"}, "finite number"),
    ({"name": "glu", "kind": "numeric", "fill_value": 0}, "only used with missing: 'constant'"),
    ({"name": "glu", "kind": "numeric", "encoding": "ordinal"}, "only categorical features are encoded"),
])
def test_a_missing_policy_that_does_not_fit_is_named(client, pima_frame, feature, fragment):
    spec = copy.deepcopy(PIMA_SPEC)
    spec["features"][1] = feature
    response = post(client, pima_frame, spec)
    assert response.status_code == 422
    assert any(fragment in e["reason"] and e["field"].startswith("features.1") for e in response.json()["errors"])


def test_new_data_under_a_name_is_its_next_version(client, bus, pima_frame):
    first = post(client, pima_frame.iloc[:200], PIMA_SPEC).json()
    second = post(client, pima_frame.iloc[100:], PIMA_SPEC).json()
    assert (first["version"], second["version"]) == (1, 2)
    assert [e.version for e in bus.events(ev.DatasetArrived)] == [1, 2]
    listed = client.get("/datasets", params={"name": "pima"}).json()["datasets"]
    assert [(d["version"], d["dataset_id"]) for d in listed] == [(2, second["dataset_id"]), (1, first["dataset_id"])]
    assert client.get("/datasets", params={"name": "nobody"}).json() == {"datasets": []}
