"""The lifecycle story's table: statsmodels' `fair` survey (Fair 1978, 6,366 married women), as received.

`occupation` is text (the codes named as the dataset's documentation names them), the label `had_affair` is
yes/no, and a text and a numeric column have gaps (about 4% of each), as real surveys do. The tests read the
same table (the root conftest.py).

The story's drift is a population shift, not a broken sensor: the champion learns from the survey's recently
married women (under `MARRIED_YEARS` years) and then serves women married longer. They answer the same
questions, but what goes with an affair differs between the two groups: the champion ranks them worse than its
own population, and a retrain that adds their labelled rows ranks them better (on the same held-out rows; the
numbers are in docs/datasets.md and in each run's ModelTrained.comparison).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

OCCUPATIONS = {1: "student", 2: "farming", 3: "white collar", 4: "teacher", 5: "professional", 6: "managerial"}
TARGET = "had_affair"
NUMERIC = ["rate_marriage", "age", "yrs_married", "children", "religious", "educ"]
CATEGORIES = ["occupation", "occupation_husb"]  # text, and the husband's occupation as whole-number codes
MARRIED_YEARS = 6  # the shift: the champion's population was married under this many years
SUBJECT = "respondent"


def fair_table(seed: int = 0) -> pd.DataFrame:
    """The whole survey with text categories, a yes/no label and gaps (seeded)."""
    from statsmodels.datasets import fair  # the table ships inside statsmodels; imported only when needed

    frame = fair.load_pandas().data.copy()
    frame["occupation"] = frame["occupation"].map(OCCUPATIONS)
    frame[TARGET] = np.where(frame["affairs"] > 0, "yes", "no")
    rng = np.random.default_rng(seed)
    frame.loc[rng.random(len(frame)) < 0.04, "occupation"] = None
    frame.loc[rng.random(len(frame)) < 0.04, "age"] = np.nan
    return frame


@dataclass(frozen=True)
class Populations:
    """`trained`: what the champion's dataset holds; `shifted`: who the drifted traffic comes from."""

    trained: pd.DataFrame
    shifted: pd.DataFrame

    @property
    def features(self) -> list[str]:
        return [*NUMERIC, *CATEGORIES]


def populations(shuffle_seed: int = 1) -> Populations:
    """The survey split by years married, as uploaded (`affairs`, the count behind the label, rides along and
    is declared ignored). A later demo run uploads the same women in another order: new bytes, a new dataset."""
    frame = fair_table()
    frame["occupation_husb"] = frame["occupation_husb"].astype(int)
    frame.insert(0, SUBJECT, [f"r{i:04d}" for i in range(len(frame))])
    recent = frame["yrs_married"] < MARRIED_YEARS
    trained, shifted = frame[recent], frame[~recent]
    # The file is sorted by the affairs count: every upload is shuffled, so any slice holds both answers.
    trained = trained.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    shifted = shifted.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    return Populations(trained=trained, shifted=shifted)


def dataset_spec(model: str, min_labels: int, estimator: str = "logistic_regression") -> dict[str, Any]:
    """The spec a data scientist writes for the table: kinds, the ignored count, the retrain policy."""
    return {
        "name": model,
        "target": TARGET,
        "task": "classification",
        "features": [{"name": n, "kind": "numeric"} for n in NUMERIC]
        + [{"name": n, "kind": "categorical"} for n in CATEGORIES],  # gaps: median / most frequent (defaults)
        "ignore": ["affairs"],
        "subject_id_column": SUBJECT,
        "consent_basis": "public_task",
        "owner": "data-science@conveyor.example",
        "training": {
            "model_name": model, "estimator": estimator, "seed": 42, "primary_metric": "roc_auc",
            # the retrain learns from the new rows plus the original, and waits until they are all labelled
            "retrain": {"min_labels": min_labels, "include_original": True, "fresh_holdout_fraction": 0.3},
        },
    }
