"""The spec model (defaults, field-named errors) and the profile stored with each dataset."""

import json

import pytest
from pydantic import ValidationError

from conveyor.events.v1 import events_pb2 as ev
from conveyor_ingest import events
from conveyor_ingest.profile import profile
from conveyor_ingest.spec import DatasetSpec


def error_fields(spec_dict) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        DatasetSpec.model_validate(spec_dict)
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


def test_training_defaults_follow_the_name_and_task(spec_dict):
    del spec_dict["training"]
    spec_dict["task"] = "regression"
    spec = DatasetSpec.model_validate(spec_dict)
    assert spec.training.model_name == "breast-cancer"
    assert spec.training.estimator == "ridge"  # the linear baseline for a number, never a classifier
    assert (spec.training.holdout_fraction, spec.training.seed) == (0.25, 42)
    assert spec.training.primary_metric == "rmse"


def test_classification_defaults_to_roc_auc(spec):
    assert spec.training.primary_metric == "roc_auc"


@pytest.mark.parametrize(("change", "field"), [
    ({"consent_basis": "because"}, "consent_basis"),
    ({"consent_basis": None}, "consent_basis"),
    ({"features": []}, "features"),
    ({"task": "ranking"}, "task"),
    ({"owner": ""}, "owner"),
    ({"name": "no spaces please"}, "name"),
    ({"training": {"holdout_fraction": 1.5}}, "training.holdout_fraction"),
    ({"training": {"estimator": "xgboost"}}, "training.estimator"),
    ({"features": [{"name": "mean_radius", "kind": "ordinal"}]}, "features.0.kind"),
    ({"colour": "blue"}, "colour"),
])
def test_a_bad_field_is_named(spec_dict, change, field):
    spec_dict.update(change)
    assert field in error_fields(spec_dict)


def test_missing_required_fields_are_each_named(spec_dict):
    for name in ("name", "target", "owner", "consent_basis", "features"):
        del spec_dict[name]
    assert set(error_fields(spec_dict)) == {"name", "target", "owner", "consent_basis", "features"}


@pytest.mark.parametrize(("change", "named"), [
    ({"target": "mean_radius"}, "target"),
    ({"sensitive_attributes": ["mean_area"]}, "sensitive_attributes"),
    ({"subject_id_column": "size_group"}, "subject_id_column"),
])
def test_a_column_has_one_role(spec_dict, change, named):
    spec_dict.update(change)
    with pytest.raises(ValidationError) as caught:
        DatasetSpec.model_validate(spec_dict)
    assert named in str(caught.value)


def test_profile_describes_every_role(frame, spec):
    stats = profile(frame, spec)
    columns = stats["columns"]
    assert stats["rows"] == len(frame)
    radius = columns["mean_radius"]
    assert (radius["role"], radius["kind"], radius["count"], radius["missing"]) == ("feature", "numeric", 40, 0)
    assert radius["min"] == pytest.approx(frame["mean_radius"].min())
    assert radius["mean"] == pytest.approx(frame["mean_radius"].mean())
    assert radius["std"] == pytest.approx(frame["mean_radius"].std())
    assert sum(columns["texture_band"]["values"].values()) == 40
    assert set(columns["size_group"]["values"]) == {"large", "small"}
    assert columns["patient_id"]["unique"] == 40
    assert stats["target_distribution"] == {"0": 20, "1": 20}
    json.dumps(stats, allow_nan=False)  # storable as strict JSON


def test_profile_of_a_regression_target_has_moments(frame, spec_dict):
    spec_dict.update(task="regression", target="mean_area",
                     features=[{"name": "mean_radius", "kind": "numeric"}],
                     sensitive_attributes=["size_group", "diagnosis", "texture_band", "mean_texture"])
    stats = profile(frame, DatasetSpec.model_validate(spec_dict))
    assert stats["target_distribution"]["max"] == pytest.approx(frame["mean_area"].max())


def test_dataset_arrived_carries_the_spec(spec):
    stored = events.Stored(dataset_id="abc", uri="file:///d.csv", profile_uri="file:///p.json", rows=40,
                           source_format="csv", version=3, dtypes={"texture_band": "int64"}, imputed_cells=5,
                           ignored_columns=["notes"])
    event = events.dataset_arrived(spec, stored, ev.DatasetProvenance(kind="upload", uploaded_by="alice"))
    band = event.features[-1]
    assert (band.name, band.kind, band.dtype) == ("texture_band", ev.COLUMN_KIND_CATEGORICAL, "int64")
    assert (band.missing, band.encoding) == (ev.MISSING_POLICY_MOST_FREQUENT, ev.ENCODING_ONE_HOT)
    assert [f.missing for f in event.features[:2]] == [ev.MISSING_POLICY_REJECT, ev.MISSING_POLICY_MEDIAN]
    assert event.task == ev.TASK_CLASSIFICATION
    assert event.training.model_name == "breast-cancer"
    assert {k: json.loads(v) for k, v in event.training.params.items()} == {"n_estimators": 20, "max_depth": None}
    assert (event.version, event.imputed_cells, list(event.ignored_columns)) == (3, 5, ["notes"])
    assert event.provenance.kind == "upload"
    assert (event.training.retrain.include_original, event.training.retrain.min_labels) == (True, 200)
    assert event.training.retrain.fresh_holdout_fraction == 0.3
    assert not event.training.HasField("search")
