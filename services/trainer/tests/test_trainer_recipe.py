import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from conveyor.events.v1 import events_pb2 as ev
from conveyor_trainer.recipe import TrainingFailure, build_pipeline, resolve_spec

CLF, REG = ev.TASK_CLASSIFICATION, ev.TASK_REGRESSION


def spec(**kwargs) -> ev.TrainingSpec:  # type: ignore[no-untyped-def]
    return ev.TrainingSpec(model_name="m", seed=11, **kwargs)


def test_logistic_regression_is_scaled_and_seeded() -> None:
    pipeline = build_pipeline(spec(estimator="logistic_regression", params={"C": "0.5"}), CLF)
    assert [name for name, _ in pipeline.steps] == ["scale", "model"]
    assert isinstance(pipeline.named_steps["scale"], StandardScaler)
    model = pipeline.named_steps["model"]
    assert isinstance(model, LogisticRegression)
    assert model.C == 0.5
    assert model.random_state == 11


def test_random_forest_takes_json_params_and_seed() -> None:
    pipeline = build_pipeline(spec(estimator="random_forest", params={"n_estimators": "7", "max_depth": "3"}), CLF)
    model = pipeline.named_steps["model"]
    assert isinstance(model, RandomForestClassifier)
    assert (model.n_estimators, model.max_depth, model.random_state) == (7, 3, 11)


def test_regression_estimators() -> None:
    assert isinstance(build_pipeline(spec(estimator="logistic_regression"), REG).named_steps["model"], Ridge)
    assert isinstance(build_pipeline(spec(estimator="random_forest"), REG).named_steps["model"], RandomForestRegressor)


def test_explicit_random_state_wins_over_seed() -> None:
    pipeline = build_pipeline(spec(estimator="random_forest", params={"random_state": "3"}), CLF)
    assert pipeline.named_steps["model"].random_state == 3


@pytest.mark.parametrize(
    ("estimator", "params", "fragment"),
    [
        ("xgboost", {}, "unknown estimator 'xgboost'"),
        ("random_forest", {"n_trees": "5"}, "bad params for random_forest"),
        ("logistic_regression", {"C": "not json"}, "param 'C'='not json' is not JSON-encoded"),
    ],
)
def test_bad_recipes_fail_at_train_stage(estimator: str, params: dict[str, str], fragment: str) -> None:
    with pytest.raises(TrainingFailure) as caught:
        build_pipeline(spec(estimator=estimator, params=params), CLF)
    assert caught.value.stage == "train"
    assert fragment in caught.value.reason


def test_unspecified_task_fails() -> None:
    with pytest.raises(TrainingFailure, match="TASK_UNSPECIFIED"):
        build_pipeline(spec(estimator="random_forest"), ev.TASK_UNSPECIFIED)


def test_resolve_spec_fills_documented_defaults() -> None:
    resolved = resolve_spec(ev.TrainingSpec(seed=5), REG, fallback_name="houses")
    assert (
        resolved.model_name,
        resolved.estimator,
        resolved.holdout_fraction,
        resolved.primary_metric,
        resolved.seed,
    ) == ("houses", "logistic_regression", 0.2, "rmse", 5)
