"""The dataset spec a client sends with an upload: what the columns mean and how to train on them."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ConsentBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
]  # the lawful bases of GDPR Art. 6(1)
Task = Literal["classification", "regression"]

DEFAULT_METRIC: dict[str, str] = {"classification": "roc_auc", "regression": "rmse"}
# Names travel as Kafka keys, model names and file names downstream: keep them plain.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["numeric", "categorical"]


class TrainingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str | None = Field(default=None, pattern=NAME_PATTERN, description="defaults to the name")
    estimator: Literal["logistic_regression", "random_forest"] = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict, description="estimator keyword arguments")
    holdout_fraction: float = Field(default=0.25, gt=0.0, lt=1.0)
    seed: int = 42
    primary_metric: str | None = Field(default=None, min_length=1, description="default depends on task")


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    target: str = Field(min_length=1)
    task: Task = "classification"
    features: list[FeatureSpec] = Field(min_length=1)
    sensitive_attributes: list[str] = Field(default_factory=list)
    subject_id_column: str | None = None
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
        if self.training.model_name is None:
            self.training.model_name = self.name
        if self.training.primary_metric is None:
            self.training.primary_metric = DEFAULT_METRIC[self.task]
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
