"""Models that carry their preprocessing, trained on public tables nobody prepared: statsmodels' fair
(a text category with gaps, integer codes, yes/no labels) and MASS Pima.tr2 (Yes/No labels, 114 gaps)."""

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor_trainer.training import RunRequest, train

from .conftest import fair_features, table_event

PIMA = ["npreg", "glu", "bp", "skin", "bmi", "ped", "age"]


def run(dataset, store, settings) -> ev.ModelTrained:  # type: ignore[no-untyped-def]
    return train(RunRequest(dataset, "dataset_arrived", run_id="r1"), store, settings)


def session_of(store, trained) -> ort.InferenceSession:  # type: ignore[no-untyped-def]
    return ort.InferenceSession(store.get(trained.artifact_uri), providers=["CPUExecutionProvider"])


def feed(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Raw values as a client sends them: numbers (NaN for a gap), text ("" for a gap)."""
    out = {}
    for name in rows.columns:
        if rows[name].dtype == object:
            out[name] = rows[name].fillna("").astype(str).to_numpy(dtype=object).reshape(-1, 1)
        else:
            out[name] = rows[name].to_numpy(dtype=np.float32).reshape(-1, 1)
    return out


FAIR_INPUTS = ["rate_marriage", "age", "yrs_married", "children", "religious", "educ", "occupation", "occupation_husb"]


@pytest.mark.parametrize(("estimator", "params"), [
    ("logistic_regression", {}), ("random_forest", {"n_estimators": "25"}), ("gradient_boosting", {"max_iter": "40"}),
])
def test_fair_trains_exports_whole_and_keeps_parity(store, settings, fair_frame, estimator, params) -> None:  # type: ignore[no-untyped-def]
    trained = run(table_event(store, fair_frame.drop(columns=["affairs"]), fair_features(), "had_affair",
                              estimator=estimator, params=params), store, settings)
    assert list(trained.class_labels) == ["no", "yes"]
    assert trained.metrics["roc_auc"] > 0.65
    assert trained.parity_max_abs_diff <= settings.parity_tolerance  # holdout + unseen categories + gaps
    session = session_of(store, trained)
    assert [(i.name, i.type) for i in session.get_inputs()] == [
        (n, "tensor(string)" if n == "occupation" else "tensor(float)") for n in FAIR_INPUTS]
    assert {i.name: i.datatype for i in trained.inputs}["occupation"] == "BYTES"
    assert session.get_outputs()[0].type == "tensor(string)"
    rows = fair_frame[FAIR_INPUTS].head(5).copy()
    rows.loc[rows.index[0], "occupation"] = "astronaut"  # never seen in training
    rows.loc[rows.index[1], "occupation_husb"] = 42.0
    labels, proba = session.run(None, feed(rows))
    assert set(labels.reshape(-1)) <= {"no", "yes"} and np.isfinite(proba).all()


def test_the_imputation_lives_inside_the_model(store, settings, fair_frame) -> None:  # type: ignore[no-untyped-def]
    frame = fair_frame.drop(columns=["affairs"])
    trained = run(table_event(store, frame, fair_features(), "had_affair"), store, settings)
    session = session_of(store, trained)
    complete = frame[FAIR_INPUTS].dropna().head(20)
    gapped = complete.copy()
    gapped["age"] = np.nan
    gapped["occupation"] = None
    filled = complete.copy()
    filled["age"] = np.float32(frame["age"].astype(np.float32).median())  # the training rows' median, roughly
    filled["occupation"] = frame["occupation"].mode()[0]
    _, with_gaps = session.run(None, feed(gapped))
    _, by_hand = session.run(None, feed(filled))
    assert np.isfinite(with_gaps).all()
    np.testing.assert_allclose(with_gaps, by_hand, atol=0.02)  # the train split's median is close to the whole's


def test_pima_yes_no_with_gaps_trains_with_text_labels(store, settings, pima_frame) -> None:  # type: ignore[no-untyped-def]
    features = [ev.Feature(name=c, kind=ev.COLUMN_KIND_NUMERIC, dtype="float64") for c in PIMA]
    trained = run(table_event(store, pima_frame, features, "type", name="pima", estimator="gradient_boosting",
                              params={"max_iter": "30"}), store, settings)
    assert list(trained.class_labels) == ["No", "Yes"]
    assert trained.metrics["roc_auc"] > 0.7
    rows = pima_frame[PIMA].head(4).copy()
    rows.loc[rows.index[0], ["bp", "skin", "bmi"]] = np.nan
    labels, _ = session_of(store, trained).run(None, feed(rows))
    assert set(labels.reshape(-1)) <= {"No", "Yes"}


def test_the_reference_keeps_raw_values_kinds_and_gaps(store, settings, fair_frame) -> None:  # type: ignore[no-untyped-def]
    settings.reference_rows = 3000
    trained = run(table_event(store, fair_frame.drop(columns=["affairs"]), fair_features(), "had_affair",
                              sensitive=("children",)), store, settings)
    reference = store.get_json(trained.reference_uri)
    assert reference["kinds"]["occupation"] == "categorical" and reference["kinds"]["age"] == "numeric"
    assert reference["inputs"]["occupation"] == "BYTES" and reference["inputs"]["occupation_husb"] == "FP32"
    occupations = reference["columns"]["occupation"]
    assert None in occupations and {v for v in occupations if v} <= set(fair_frame["occupation"].dropna())
    assert all(isinstance(v, int) for v in reference["columns"]["occupation_husb"])
    assert None in reference["columns"]["age"]
    assert set(reference["predictions"]) <= {"no", "yes"}
    assert (reference["target"], reference["sensitive_attributes"]) == ("had_affair", ["children"])


def test_multiclass_fairness_is_the_largest_gap_over_classes(store, settings, fair_frame) -> None:  # type: ignore[no-untyped-def]
    frame = fair_frame.drop(columns=["affairs", "had_affair"]).assign(
        married_long=np.where(fair_frame["yrs_married"] > 10, "over 10 years", "10 years or less"))
    features = [f for f in fair_features() if f.name not in ("rate_marriage", "yrs_married")]
    trained = run(table_event(store, frame, features, "rate_marriage", sensitive=("married_long",)), store, settings)
    assert len(trained.class_labels) == 5
    [gap] = trained.fairness
    assert gap.attribute == "married_long" and set(gap.selection_rate) == {"over 10 years", "10 years or less"}
    assert 0 <= gap.demographic_parity_difference <= 1 and 0 <= gap.equalized_odds_difference <= 1
    rates = list(gap.selection_rate.values())
    assert gap.demographic_parity_difference == pytest.approx(max(rates) - min(rates))


def test_regression_fairness_is_standardized(store, settings, fair_frame) -> None:  # type: ignore[no-untyped-def]
    frame = fair_frame.drop(columns=["had_affair"]).assign(
        has_children=np.where(fair_frame["children"] > 0, "yes", "no"))
    trained = run(table_event(store, frame, fair_features(), "affairs", task=ev.TASK_REGRESSION, estimator="ridge",
                              sensitive=("has_children",), primary_metric="rmse"), store, settings)
    assert set(trained.metrics) == {"rmse", "mae", "r2", "mape"}
    [gap] = trained.fairness
    means = gap.selection_rate  # each group's mean prediction
    spread = abs(means["yes"] - means["no"])
    assert gap.demographic_parity_difference == pytest.approx(spread / frame["affairs"].std(), rel=0.2)


def test_a_declared_search_runs_within_budget_and_records_its_trials(store, settings, pima_frame) -> None:  # type: ignore[no-untyped-def]
    features = [ev.Feature(name=c, kind=ev.COLUMN_KIND_NUMERIC, dtype="float64") for c in PIMA]
    search = ev.SearchSpec(method="grid", space={"C": "[0.01, 0.1, 1.0]"}, cv=3, budget=3)
    trained = run(table_event(store, pima_frame, features, "type", name="pima", search=search), store, settings)
    trials = list(trained.trials)
    assert sorted(t.params["C"] for t in trials) == ["0.01", "0.1", "1.0"]
    assert sorted(t.rank for t in trials)[0] == 1 and all(0 < t.mean_score <= 1 for t in trials)
    best = min(trials, key=lambda t: t.rank)
    assert trained.training.params["C"] == best.params["C"]  # the published spec is the one that ran


def test_binary_fairness_matches_fairlearn(store, settings, pima_frame) -> None:  # type: ignore[no-untyped-def]
    frame = pima_frame.assign(age_group=np.where(pima_frame["age"] > 30, "over 30", "30 or under"))
    features = [ev.Feature(name=c, kind=ev.COLUMN_KIND_NUMERIC, dtype="float64") for c in PIMA]
    trained = run(table_event(store, frame, features, "type", name="pima", sensitive=("age_group",)), store, settings)
    [gap] = trained.fairness
    rates = gap.selection_rate
    assert gap.demographic_parity_difference == pytest.approx(abs(rates["over 30"] - rates["30 or under"]))


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest"])
def test_constant_fills_booleans_and_rejected_gaps_export_with_parity(store, settings, fair_frame, estimator) -> None:  # type: ignore[no-untyped-def]
    frame = fair_frame.drop(columns=["affairs"]).assign(
        has_children=np.where(fair_frame["children"] > 0, "yes", "no"))
    frame.loc[frame.index[:50], "has_children"] = None
    features = [
        ev.Feature(name="age", kind=ev.COLUMN_KIND_NUMERIC, dtype="float64", missing=ev.MISSING_POLICY_CONSTANT,
                   fill_value="30"),
        ev.Feature(name="educ", kind=ev.COLUMN_KIND_NUMERIC, dtype="float64", missing=ev.MISSING_POLICY_REJECT),
        ev.Feature(name="occupation", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="string",
                   missing=ev.MISSING_POLICY_CONSTANT, fill_value="unknown", encoding=ev.ENCODING_ORDINAL),
        ev.Feature(name="has_children", kind=ev.COLUMN_KIND_BOOLEAN, dtype="bool"),
    ]
    params = {"n_estimators": "20"} if estimator == "random_forest" else {}
    trained = run(table_event(store, frame, features, "had_affair", estimator=estimator, params=params), store,
                  settings)
    assert trained.parity_max_abs_diff <= settings.parity_tolerance
    assert {i.name: (i.datatype, i.kind) for i in trained.inputs}["has_children"] == ("FP32", ev.COLUMN_KIND_BOOLEAN)
    rows = pd.DataFrame({"age": [np.nan, 30.0], "educ": [14.0, 14.0], "occupation": ["", "unknown"],
                         "has_children": [1.0, 1.0]})
    _, proba = session_of(store, trained).run(None, feed(rows))
    np.testing.assert_allclose(proba[0], proba[1], atol=1e-6)  # a gap is exactly its declared constant
