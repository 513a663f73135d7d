"""From the declared spec and columns to an unfitted pipeline: the preprocessing each kind of column gets."""

import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from conveyor.events.v1 import events_pb2 as ev
from conveyor_trainer.columns import MISSING_TEXT, columns_of
from conveyor_trainer.recipe import ESTIMATORS, TrainingFailure, build_pipeline, resolve_spec

CLF, REG = ev.TASK_CLASSIFICATION, ev.TASK_REGRESSION
COLUMNS = columns_of([
    ev.Feature(name="age", kind=ev.COLUMN_KIND_NUMERIC, dtype="float64"),
    ev.Feature(name="income", kind=ev.COLUMN_KIND_NUMERIC, dtype="float64", missing=ev.MISSING_POLICY_CONSTANT,
               fill_value="0"),
    ev.Feature(name="job", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="string"),
    ev.Feature(name="grade", kind=ev.COLUMN_KIND_CATEGORICAL, dtype="int64", encoding=ev.ENCODING_ORDINAL),
    ev.Feature(name="member", kind=ev.COLUMN_KIND_BOOLEAN, dtype="bool", missing=ev.MISSING_POLICY_REJECT),
])


def spec(**kwargs) -> ev.TrainingSpec:  # type: ignore[no-untyped-def]
    return ev.TrainingSpec(model_name="m", seed=11, **kwargs)


def steps_for(pipeline, column: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    prepare: ColumnTransformer = pipeline.named_steps["prepare"]
    for _name, transformer, names in prepare.transformers:
        if column in names:
            return {} if transformer == "passthrough" else dict(transformer.steps)
    raise AssertionError(f"{column} is not prepared")


def test_a_linear_model_gets_imputed_scaled_numbers_and_encoded_categories() -> None:
    pipeline = build_pipeline(spec(estimator="logistic_regression", params={"C": "0.5"}), CLF, COLUMNS)
    assert [name for name, _ in pipeline.steps] == ["prepare", "model"]
    age = steps_for(pipeline, "age")
    assert isinstance(age["impute"], SimpleImputer) and age["impute"].strategy == "median"
    assert isinstance(age["scale"], StandardScaler)
    income = steps_for(pipeline, "income")["impute"]
    assert (income.strategy, income.fill_value) == ("constant", 0.0)
    job = steps_for(pipeline, "job")
    assert (job["impute"].strategy, job["impute"].missing_values) == ("most_frequent", MISSING_TEXT)
    assert isinstance(job["encode"], OneHotEncoder) and job["encode"].handle_unknown == "ignore"
    grade = steps_for(pipeline, "grade")["encode"]
    assert isinstance(grade, OrdinalEncoder) and grade.unknown_value == -1
    assert steps_for(pipeline, "member") == {}  # reject: nothing to impute; 1/0 needs no scaling
    model = pipeline.named_steps["model"]
    assert isinstance(model, LogisticRegression) and (model.C, model.random_state) == (0.5, 11)


def test_trees_take_unscaled_numbers() -> None:
    pipeline = build_pipeline(spec(estimator="random_forest", params={"n_estimators": "7", "max_depth": "3"}), CLF,
                              COLUMNS)
    assert "scale" not in steps_for(pipeline, "age")
    model = pipeline.named_steps["model"]
    assert isinstance(model, RandomForestClassifier)
    assert (model.n_estimators, model.max_depth, model.random_state) == (7, 3, 11)


@pytest.mark.parametrize(("estimator", "task", "cls"), [
    ("linear_regression", REG, LinearRegression), ("ridge", REG, Ridge), ("random_forest", REG, RandomForestRegressor),
    ("gradient_boosting", CLF, HistGradientBoostingClassifier),
])
def test_each_family_is_named_for_what_it_is(estimator, task, cls) -> None:  # type: ignore[no-untyped-def]
    assert type(build_pipeline(spec(estimator=estimator), task, COLUMNS).named_steps["model"]) is cls


def test_every_family_serves_the_tasks_ingest_accepts_it_for() -> None:
    assert {name: sorted(tasks) for name, tasks in ESTIMATORS.items()} == {
        "logistic_regression": [CLF], "linear_regression": [REG], "ridge": [REG],
        "random_forest": [CLF, REG], "gradient_boosting": [CLF, REG]}


def test_explicit_random_state_wins_over_seed() -> None:
    pipeline = build_pipeline(spec(estimator="random_forest", params={"random_state": "3"}), CLF, COLUMNS)
    assert pipeline.named_steps["model"].random_state == 3


@pytest.mark.parametrize(
    ("estimator", "task", "params", "fragment"),
    [
        ("xgboost", CLF, {}, "unknown estimator 'xgboost'"),
        ("random_forest", CLF, {"n_trees": "5"}, "bad params for random_forest"),
        ("logistic_regression", CLF, {"C": "not json"}, "param 'C'='not json' is not JSON-encoded"),
        ("logistic_regression", REG, {}, "logistic_regression does not do regression; use one of: linear_regression"),
        ("random_forest", ev.TASK_UNSPECIFIED, {}, "TASK_UNSPECIFIED"),
    ],
)
def test_bad_recipes_fail_at_train_stage(estimator: str, task: int, params: dict[str, str], fragment: str) -> None:
    with pytest.raises(TrainingFailure) as caught:
        build_pipeline(spec(estimator=estimator, params=params), task, COLUMNS)
    assert caught.value.stage == "train"
    assert fragment in caught.value.reason


def test_resolve_spec_fills_documented_defaults() -> None:
    resolved = resolve_spec(ev.TrainingSpec(seed=5), REG, fallback_name="houses")
    assert (
        resolved.model_name,
        resolved.estimator,
        resolved.holdout_fraction,
        resolved.primary_metric,
        resolved.seed,
    ) == ("houses", "ridge", 0.2, "rmse", 5)
    assert resolve_spec(ev.TrainingSpec(), CLF, "x").estimator == "logistic_regression"
