"""Checks a parsed table against its spec and collects every problem, not just the first.

The reasons are written for the person who has to fix the file: what is wrong, where, and what to do.
"""

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from .problems import FILE, ColumnProblem
from .spec import DatasetSpec

_EXAMPLES = 3


def validate(frame: pd.DataFrame, spec: DatasetSpec, min_rows: int) -> list[ColumnProblem]:
    problems = [*check_rows(frame, min_rows), *check_columns(frame, spec)]
    present = set(frame.columns)
    for feature in spec.features:
        if feature.name in present:
            problems += check_feature(frame[feature.name], feature.name, feature.kind)
    if spec.target in present:
        problems += check_target(frame[spec.target], spec.target, spec.task)
    if spec.subject_id_column and spec.subject_id_column in present:
        problems += check_subject_ids(frame[spec.subject_id_column], spec.subject_id_column)
    return problems


def check_rows(frame: pd.DataFrame, min_rows: int) -> list[ColumnProblem]:
    if len(frame) < min_rows:
        return [ColumnProblem(FILE, f"the file has {len(frame)} data rows; at least {min_rows} are needed "
                                    "to train and hold out a test split")]
    return []


def check_columns(frame: pd.DataFrame, spec: DatasetSpec) -> list[ColumnProblem]:
    present = [str(c) for c in frame.columns]
    roles = {name: "feature" for name in spec.feature_names}
    roles[spec.target] = "target"
    roles.update({name: "sensitive attribute" for name in spec.sensitive_attributes})
    if spec.subject_id_column:
        roles[spec.subject_id_column] = "subject id column"
    problems = [ColumnProblem(name, f"declared as {role} but missing from the file; add the column or "
                                    "fix its name in the spec")
                for name, role in roles.items() if name not in present]
    problems += [ColumnProblem(name, "not declared in the spec; list it in features, sensitive_attributes "
                                     "or subject_id_column, or drop it from the file")
                 for name in present if name not in roles]
    return problems


def check_feature(column: pd.Series, name: str, kind: str) -> list[ColumnProblem]:
    problems = []
    missing = column.isna()
    if missing.any():
        problems.append(ColumnProblem(name, f"{int(missing.sum())} missing value(s) at row(s) "
                                            f"{_rows(missing)}; features must be complete: impute or drop "
                                            "those rows"))
    values = column[~missing]
    if kind == "numeric" and not _is_numeric(values):
        problems.append(ColumnProblem(name, f"numeric feature has non-numeric value(s) {_non_numeric(values)}; "
                                            "declare it categorical (integer-coded) or clean the values"))
    if kind == "categorical" and not _is_integer_coded(values):
        problems.append(ColumnProblem(name, "categorical feature must be integer-coded (models take numeric "
                                            f"inputs only); found {_non_integers(values)}: map each category "
                                            "to an integer code"))
    if _is_numeric(values):
        problems += _non_finite(values, name)
    return problems


def check_target(column: pd.Series, name: str, task: str) -> list[ColumnProblem]:
    missing = column.isna()
    if missing.any():
        return [ColumnProblem(name, f"{int(missing.sum())} row(s) have no target value (row(s) "
                                    f"{_rows(missing)}); label them or drop them")]
    if task == "regression":
        if not _is_numeric(column):
            return [ColumnProblem(name, f"regression target must be numeric; found {_non_numeric(column)}")]
        return _non_finite(column, name)
    if _is_numeric(column) and _non_finite(column, name):
        return _non_finite(column, name)
    if not _is_integer_coded(column):
        return [ColumnProblem(name, "classification target must be integer-coded class labels (class labels "
                                    f"are integers in v1); found {_non_integers(column)}: map each class "
                                    "to an integer")]
    classes = sorted(column.unique().tolist())
    if len(classes) < 2:
        return [ColumnProblem(name, f"classification needs at least 2 classes; the target has only {classes}")]
    return []


def check_subject_ids(column: pd.Series, name: str) -> list[ColumnProblem]:
    problems = []
    missing = column.isna()
    if missing.any():
        problems.append(ColumnProblem(name, f"{int(missing.sum())} row(s) have no subject id (row(s) "
                                            f"{_rows(missing)}); every row must name its data subject"))
    repeated = column[~missing][column[~missing].duplicated(keep=False)]
    if len(repeated):
        examples = list(dict.fromkeys(repeated.tolist()))[:_EXAMPLES]
        problems.append(ColumnProblem(name, f"{repeated.nunique()} subject id(s) appear more than once, e.g. "
                                            f"{examples}; each subject must appear in one row only"))
    return problems


def _is_numeric(values: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(values) or bool(values.empty)


def _is_integer_coded(values: pd.Series) -> bool:
    if ptypes.is_bool_dtype(values) or not _is_numeric(values):
        return False
    if ptypes.is_integer_dtype(values):
        return True
    # A CSV integer column with a gap reads as float; integral floats are still integer codes.
    finite = values[np.isfinite(values.to_numpy(dtype=float))]
    return bool((finite == np.round(finite)).all())


def _non_finite(values: pd.Series, name: str) -> list[ColumnProblem]:
    infinite = pd.Series(~np.isfinite(values.to_numpy(dtype=float)), index=values.index)
    if infinite.any():
        return [ColumnProblem(name, f"{int(infinite.sum())} non-finite value(s) (inf) at row(s) "
                                    f"{_rows(infinite)}; replace them with finite numbers")]
    return []


def _non_numeric(values: pd.Series) -> list[str]:
    bad = values[pd.to_numeric(values, errors="coerce").isna()]
    return [str(v) for v in dict.fromkeys(bad.tolist())][:_EXAMPLES]


def _non_integers(values: pd.Series) -> list[str]:
    if ptypes.is_bool_dtype(values):
        return [str(v) for v in values.unique().tolist()][:_EXAMPLES]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() | (numbers != np.round(numbers))]
    return [str(v) for v in dict.fromkeys(bad.tolist())][:_EXAMPLES]


def _rows(mask: pd.Series) -> str:
    """1-based data row numbers (the header is not counted) of the first few hits."""
    positions = np.flatnonzero(mask.to_numpy())[:_EXAMPLES] + 1
    more = ", ..." if int(mask.sum()) > _EXAMPLES else ""
    return ", ".join(str(p) for p in positions) + more
