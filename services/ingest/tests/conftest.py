"""Small, real data for ingest tests: 40 rows of scikit-learn's breast cancer set, with the extra roles."""

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from conveyor_ingest.spec import DatasetSpec

ROWS = 40


@pytest.fixture(scope="session")
def _cancer_frame() -> pd.DataFrame:
    raw = load_breast_cancer(as_frame=True).frame
    # Alternate classes so any head() of the frame still has both.
    malignant, benign = raw[raw.target == 0].head(ROWS // 2), raw[raw.target == 1].head(ROWS // 2)
    rows = pd.concat([malignant, benign]).iloc[np.arange(ROWS).reshape(2, -1).T.ravel()].reset_index(drop=True)
    frame = pd.DataFrame({
        "mean_radius": rows["mean radius"],
        "mean_texture": rows["mean texture"],
        "mean_area": rows["mean area"],
        # an integer-coded categorical feature, as the model contract wants it
        "texture_band": pd.qcut(rows["mean texture"], 3, labels=False).astype(int),
        "size_group": np.where(rows["mean area"] > rows["mean area"].median(), "large", "small"),
        "patient_id": [f"p{i:04d}" for i in range(len(rows))],
        "diagnosis": rows["target"].astype(int),
    })
    return frame


@pytest.fixture
def frame(_cancer_frame: pd.DataFrame) -> pd.DataFrame:
    return _cancer_frame.copy()


_SPEC: dict[str, Any] = {
    "name": "breast-cancer",
    "target": "diagnosis",
    "task": "classification",
    "features": [
        {"name": "mean_radius", "kind": "numeric", "missing": "reject"},
        {"name": "mean_texture", "kind": "numeric"},
        {"name": "mean_area", "kind": "numeric"},
        {"name": "texture_band", "kind": "categorical"},
    ],
    "sensitive_attributes": ["size_group"],
    "subject_id_column": "patient_id",
    "consent_basis": "public_task",
    "owner": "data-science@conveyor.example",
    "training": {"estimator": "random_forest", "params": {"n_estimators": 20, "max_depth": None}},
}


@pytest.fixture
def spec_dict() -> dict[str, Any]:
    return copy.deepcopy(_SPEC)


@pytest.fixture
def spec(spec_dict: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec.model_validate(spec_dict)
