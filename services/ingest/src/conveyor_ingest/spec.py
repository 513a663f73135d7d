"""The dataset spec a client sends with an upload: what the columns mean and how to train on them.

This module checks the spec's shape; `recipes.py` checks what it asks of scikit-learn (estimator,
parameters, metric, search space), and `validation.py` checks the table against it.
"""

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ConsentBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
]  # the lawful bases of GDPR Art. 6(1)
Task = Literal["classification", "regression"]
Kind = Literal["numeric", "categorical", "boolean"]
Missing = Literal["median", "mean", "most_frequent", "constant", "reject"]
Encoding = Literal["one_hot", "ordinal"]
Estimator = Literal["logistic_regression", "linear_regression", "ridge", "random_forest", "gradient_boosting"]

DEFAULT_METRIC: dict[str, str] = {"classification": "roc_auc", "regression": "rmse"}
DEFAULT_ESTIMATOR: dict[str, str] = {"classification": "logistic_regression", "regression": "ridge"}
# Names travel as Kafka keys, model names and file names downstream: keep them plain.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: Kind
    missing: Missing | None = Field(default=None, description="default: median (numeric), most_frequent (others)")
    fill_value: str | int | float | bool | None = Field(default=None, description="with missing: constant")
    encoding: Encoding | None = Field(default=None, description="categorical only; default one_hot")

    @model_validator(mode="after")
    def _policy_fits_the_kind(self) -> "FeatureSpec":
        if self.missing in ("median", "mean") and self.kind != "numeric":
            raise ValueError(f"missing: {self.missing!r} needs numbers; a {self.kind} feature takes "
                             "most_frequent, constant or reject")
        if self.missing == "constant":
            if self.fill_value is None:
                raise ValueError("fill_value: missing 'constant' needs a fill_value, e.g. 0 or \"unknown\"")
            _check_fill_value(self.kind, self.fill_value)
        elif self.fill_value is not None:
            raise ValueError("fill_value: only used with missing: 'constant'; remove it or set missing")
        if self.encoding is not None and self.kind != "categorical":
            raise ValueError(f"encoding: only categorical features are encoded; remove it from {self.name!r}")
        self.missing = self.missing or ("median" if self.kind == "numeric" else "most_frequent")
        if self.kind == "categorical":
            self.encoding = self.encoding or "one_hot"
        return self


def _check_fill_value(kind: str, value: Any) -> None:
    if kind == "numeric" and (isinstance(value, bool) or not _is_finite_number(value)):
        raise ValueError(f"fill_value: a numeric feature needs a finite number, not {value!r}")
    if kind == "boolean" and str(value).strip().lower() not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"fill_value: a boolean feature needs true or false, not {value!r}")


def _is_finite_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class SearchOptions(BaseModel):
    """A cross-validated hyperparameter search within a bounded budget of candidates."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["grid", "random"]
    space: dict[str, list[Any]] = Field(min_length=1, description="parameter -> candidate values")
    cv: int = Field(default=3, ge=2, le=10, description="folds")
    budget: int = Field(default=10, ge=1, le=200, description="most candidates fitted")

    @model_validator(mode="after")
    def _no_empty_candidates(self) -> "SearchOptions":
        empty = sorted(name for name, values in self.space.items() if not values)
        if empty:
            raise ValueError(f"space: {empty} list no candidate values; give each parameter at least one")
        return self

    @property
    def grid_size(self) -> int:
        return math.prod(len(values) for values in self.space.values())


class RetrainOptions(BaseModel):
    """Which data a retrain learns from, and when it may start (see the README's retrain section)."""

    model_config = ConfigDict(extra="forbid")

    window_rows: int = Field(default=0, ge=0, description="the newest N labelled production rows; 0: all")
    window_days: int = Field(default=0, ge=0, description="only feedback of the last D days; 0: no age limit")
    include_original: bool = Field(default=True, description="plus the newest uploaded version's rows")
    min_labels: int = Field(default=200, ge=1, description="labelled rows an alarm waits for before a retrain")
    fresh_holdout_fraction: float = Field(default=0.3, gt=0.0, lt=1.0,
                                          description="the newest share of production rows, held out to judge")


class TrainingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str | None = Field(default=None, pattern=NAME_PATTERN, description="defaults to the name")
    estimator: Estimator | None = Field(default=None, description="default: logistic_regression (classification), "
                                                                  "ridge (regression)")
    params: dict[str, Any] = Field(default_factory=dict, description="estimator keyword arguments")
    holdout_fraction: float = Field(default=0.25, gt=0.0, lt=1.0)
    seed: int = 42
    primary_metric: str | None = Field(default=None, min_length=1, description="default depends on task")
    search: SearchOptions | None = None
    retrain: RetrainOptions = Field(default_factory=RetrainOptions)


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    target: str = Field(min_length=1)
    task: Task = "classification"
    features: list[FeatureSpec] = Field(min_length=1)
    sensitive_attributes: list[str] = Field(default_factory=list)
    subject_id_column: str | None = None
    ignore: list[str] = Field(default_factory=list, description="columns in the file that the spec does not use")
    consent_basis: ConsentBasis
    owner: str = Field(min_length=1)
    training: TrainingOptions = Field(default_factory=TrainingOptions)

    @model_validator(mode="after")
    def _roles_are_disjoint_and_defaults_resolved(self) -> "DatasetSpec":
        # Each column plays exactly one role; a sensitive attribute or an id must never become a model input.
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"features: duplicate feature name(s) {duplicates}; list each column once")
        if self.target in names:
            raise ValueError(f"target: {self.target!r} is also listed in features; remove it from features")
        overlap = sorted(set(self.sensitive_attributes) & ({*names, self.target}))
        if overlap:
            raise ValueError(
                f"sensitive_attributes: {overlap} are also features or the target; "
                "sensitive attributes are kept out of the model"
            )
        if self.subject_id_column is not None and self.subject_id_column in {
            *names, self.target, *self.sensitive_attributes
        }:
            raise ValueError(
                f"subject_id_column: {self.subject_id_column!r} already has another role; "
                "the subject id must be its own column"
            )
        used = sorted(set(self.ignore) & set(self.declared_columns))
        if used:
            raise ValueError(f"ignore: {used} have a role in the spec; a column is either used or ignored")
        if self.training.model_name is None:
            self.training.model_name = self.name
        if self.training.primary_metric is None:
            self.training.primary_metric = DEFAULT_METRIC[self.task]
        if self.training.estimator is None:
            self.training.estimator = DEFAULT_ESTIMATOR[self.task]  # type: ignore[assignment]
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def declared_columns(self) -> list[str]:
        """Every column the file must have, in a stable order."""
        columns = [*self.feature_names, self.target, *self.sensitive_attributes]
        if self.subject_id_column:
            columns.append(self.subject_id_column)
        return columns
