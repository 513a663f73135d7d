"""train() end to end on a small breast-cancer sample, checked against scikit-learn/fairlearn called directly."""

import io

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference, selection_rate
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.events.v1 import events_pb2 as ev
from conveyor_trainer.training import RunRequest, TrainingFailure, train


def run(dataset, store, settings) -> ev.ModelTrained:  # type: ignore[no-untyped-def]
    return train(RunRequest(dataset, "dataset_arrived", run_id="r1"), store, settings)


def test_metrics_are_present_and_sane(make_dataset, store, settings) -> None:  # type: ignore[no-untyped-def]
    trained = run(make_dataset(), store, settings)
    assert set(trained.metrics) == {"accuracy", "balanced_accuracy", "roc_auc", "f1", "log_loss"}
    assert trained.metrics["roc_auc"] > 0.9
    assert 0.8 < trained.metrics["accuracy"] <= 1.0
    assert trained.class_labels == ["0", "1"]
    assert trained.training.primary_metric == "roc_auc"
    assert trained.code_version.startswith("conveyor-trainer==")
    assert trained.sensitive_attributes == ["size_group"]
    assert "size_group" not in trained.feature_names and "target" not in trained.feature_names
    assert (trained.source, trained.training_rows, list(trained.training_dataset_ids)) == (
        "platform", 140, [trained.dataset_id])
    assert not trained.HasField("comparison") and list(trained.trials) == []


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest"])
def test_training_twice_gives_identical_results(make_dataset, store, settings, estimator) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset(estimator=estimator, params={"n_estimators": "15"} if estimator == "random_forest" else {})
    first, second = run(dataset, store, settings), run(dataset, store, settings)
    assert dict(first.metrics) == dict(second.metrics)
    assert first.artifact_uri == second.artifact_uri  # content-addressed: byte-identical ONNX
    assert first.reference_uri == second.reference_uri


def test_fairness_matches_fairlearn_called_directly(make_dataset, store, settings) -> None:  # type: ignore[no-untyped-def]
    dataset = make_dataset()
    trained = run(dataset, store, settings)
    frame = pd.read_csv(io.BytesIO(store.get(dataset.uri)))
    features = list(trained.feature_names)
    train_part, holdout = train_test_split(frame, test_size=0.3, random_state=7, stratify=frame["target"])
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(max_iter=1000, random_state=7))
    model.fit(train_part[features].to_numpy(np.float32), train_part["target"].to_numpy())
    predicted = model.predict(holdout[features].to_numpy(np.float32))
    groups = holdout["size_group"]
    [gap] = trained.fairness
    assert gap.attribute == "size_group"
    assert gap.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(holdout["target"], predicted, sensitive_features=groups)
    )
    assert gap.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(holdout["target"], predicted, sensitive_features=groups)
    )
    rates = MetricFrame(metrics=selection_rate, y_true=holdout["target"], y_pred=predicted, sensitive_features=groups)
    assert dict(gap.selection_rate) == pytest.approx(dict(rates.by_group))
    assert set(gap.selection_rate) == {"large", "small"}


def test_onnx_meets_the_contract_and_matches_sklearn(make_dataset, store, settings, cancer_frame) -> None:  # type: ignore[no-untyped-def]
    trained = run(make_dataset(estimator="random_forest", params={"n_estimators": "15"}), store, settings)
    session = ort.InferenceSession(store.get(trained.artifact_uri), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    # one input per column, named exactly as the column (spaces too), so clients send raw values
    columns = [c for c in cancer_frame.columns if c not in ("target", "size_group")]
    assert [i.name for i in inputs] == list(trained.feature_names) == columns
    assert {(i.type, tuple(i.shape[1:])) for i in inputs} == {("tensor(float)", (1,))}
    assert [(i.name, i.datatype) for i in trained.inputs] == [(n, "FP32") for n in trained.feature_names]
    assert [(o.name, o.type) for o in session.get_outputs()] == [
        ("label", "tensor(int64)"),
        ("probabilities", "tensor(float)"),
    ]
    assert 0 <= trained.parity_max_abs_diff <= settings.parity_tolerance
    reference = store.get_json(trained.reference_uri)
    feed = {n: np.array(reference["columns"][n], dtype=np.float32).reshape(-1, 1) for n in trained.feature_names}
    labels, proba = session.run(None, feed)
    assert [str(v) for v in labels] == reference["predictions"]
    assert proba.shape == (len(labels), 2)


def test_reference_document_follows_the_agreement(make_dataset, store, settings) -> None:  # type: ignore[no-untyped-def]
    settings.reference_rows = 50
    trained = run(make_dataset(), store, settings)
    reference = store.get_json(trained.reference_uri)
    assert reference["feature_names"] == list(trained.feature_names)
    assert set(reference["kinds"].values()) == {"numeric"}
    assert {len(values) for values in reference["columns"].values()} == {50}
    assert len(reference["predictions"]) == 50
    assert (reference["task"], reference["class_labels"]) == ("classification", ["0", "1"])
    assert (reference["target"], reference["sensitive_attributes"]) == ("target", ["size_group"])
    assert set(reference["inputs"].values()) == {"FP32"}


def test_regression_exports_variable_output(store, settings, make_dataset, cancer_frame) -> None:  # type: ignore[no-untyped-def]
    frame = cancer_frame.drop(columns=["target"]).rename(columns={"mean area": "area"})
    dataset = make_dataset(
        frame=frame, target="area", task=ev.TASK_REGRESSION, estimator="random_forest", params={"n_estimators": "10"}
    )
    trained = run(dataset, store, settings)
    assert set(trained.metrics) == {"rmse", "mae", "r2", "mape"}
    assert trained.metrics["r2"] > 0.5
    assert trained.class_labels == []
    [gap] = trained.fairness  # regression has fairness too: standardized gaps per group
    assert gap.attribute == "size_group" and set(gap.selection_rate) == {"large", "small"}
    session = ort.InferenceSession(store.get(trained.artifact_uri), providers=["CPUExecutionProvider"])
    assert [(o.name, o.type) for o in session.get_outputs()] == [("variable", "tensor(float)")]


def test_parity_failure_stores_no_model(make_dataset, store, settings) -> None:  # type: ignore[no-untyped-def]
    settings.parity_tolerance = -1.0
    with pytest.raises(TrainingFailure) as caught:
        run(make_dataset(), store, settings)
    assert caught.value.stage == "parity"
    assert "max |proba diff|" in caught.value.reason and "tolerance -1" in caught.value.reason
    assert not (settings.data_dir / "artifacts" / "models").exists()


def test_text_class_labels_train_and_export_as_text(make_dataset, store, settings, cancer_frame) -> None:  # type: ignore[no-untyped-def]
    frame = cancer_frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    trained = run(make_dataset(frame=frame), store, settings)
    assert list(trained.class_labels) == ["benign", "malignant"]
    session = ort.InferenceSession(store.get(trained.artifact_uri), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].type == "tensor(string)"


def test_a_text_target_for_regression_fails_at_load(make_dataset, store, settings, cancer_frame) -> None:  # type: ignore[no-untyped-def]
    frame = cancer_frame
    frame["target"] = frame["target"].map({0: "benign", 1: "malignant"})
    with pytest.raises(TrainingFailure, match="must be numeric") as caught:
        run(make_dataset(frame=frame, task=ev.TASK_REGRESSION, estimator="ridge"), store, settings)
    assert caught.value.stage == "load"
