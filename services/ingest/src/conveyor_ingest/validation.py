"""Checks a parsed table against its spec and collects every problem, not just the first.

The reasons are written for the person who has to fix the file: what is wrong, where, and what to do.
Gaps in a feature are not a problem unless its policy says `reject`: the model imputes them (`profile.py`
counts them). Production feedback is checked by the same rules, against the dtypes its parent version was
read with, and may lack the subject id column (serving never sees who a row is about).
"""

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from .problems import FILE, ColumnProblem
from .spec import FALSE_WORDS, TRUE_WORDS, DatasetSpec, FeatureSpec

_EXAMPLES = 3
STRING, INTEGER, FLOAT, BOOL = "string", "int64", "float64", "bool"


def validate(frame: pd.DataFrame, spec: DatasetSpec, min_rows: int, *, optional: Collection[str] = (),
             expected_dtypes: Mapping[str, str] | None = None) -> list[ColumnProblem]:
    problems = [*check_rows(frame, min_rows), *check_columns(frame, spec, optional)]
    present = set(frame.columns)
    for feature in spec.features:
        if feature.name in present:
            expected = (expected_dtypes or {}).get(feature.name)
            problems += check_feature(frame[feature.name], feature, expected)
    if spec.target in present:
        problems += check_target(frame[spec.target], spec.target, spec.task)
    if spec.subject_id_column and spec.subject_id_column in present:
        problems += check_subject_ids(frame[spec.subject_id_column], spec.subject_id_column)
    return problems


def gaps(column: pd.Series) -> pd.Series:
    """Missing cells: NaN/None, and for text the empty string (the model's marker for a missing text)."""
    missing = column.isna()
    if ptypes.is_object_dtype(column) or ptypes.is_string_dtype(column):
        # Judged once per distinct value, not per cell: categories repeat, and stripping every cell of a
        # 50,000-row table in Python cost ingest half a second (it asks about each column several times).
        blank = [value for value in column.dropna().unique() if not str(value).strip()]
        if blank:
            missing |= column.isin(blank)
    return missing


def dtype_of(column: pd.Series, kind: str) -> str:
    """How the trainer must read the column: the ONNX input type follows from it."""
    if kind == "numeric":
        return FLOAT
    if kind == "boolean":
        return BOOL
    values = column[~gaps(column)]
    if ptypes.is_bool_dtype(values):
        return BOOL
    if _is_number(values) and _is_integral(values):
        return INTEGER
    return STRING


def check_rows(frame: pd.DataFrame, min_rows: int) -> list[ColumnProblem]:
    if len(frame) < min_rows:
        return [ColumnProblem(FILE, f"the file has {len(frame)} data rows; at least {min_rows} are needed "
                                    "to train and hold out a test split")]
    return []


def check_columns(frame: pd.DataFrame, spec: DatasetSpec, optional: Collection[str] = ()) -> list[ColumnProblem]:
    present = [str(c) for c in frame.columns]
    roles = {name: "feature" for name in spec.feature_names}
    roles[spec.target] = "target"
    roles.update({name: "sensitive attribute" for name in spec.sensitive_attributes})
    if spec.subject_id_column:
        roles[spec.subject_id_column] = "subject id column"
    problems = [ColumnProblem(name, f"declared as {role} but missing from the file; add the column or "
                                    "fix its name in the spec")
                for name, role in roles.items() if name not in present and name not in optional]
    ignored = set(spec.ignore)
    problems += [ColumnProblem(name, "not declared in the spec; list it in features, sensitive_attributes, "
                                     "subject_id_column or ignore, or drop it from the file")
                 for name in present if name not in roles and name not in ignored]
    return problems


def check_feature(column: pd.Series, feature: FeatureSpec, expected_dtype: str | None = None) -> list[ColumnProblem]:
    name, kind = feature.name, feature.kind
    problems = []
    missing = gaps(column)
    if missing.any() and feature.missing == "reject":
        problems.append(ColumnProblem(name, f"{int(missing.sum())} missing value(s) at row(s) {_rows(missing)}; "
                                            "the spec says missing: reject, so fill them or drop those rows "
                                            "(or declare an imputation, e.g. missing: most_frequent)"))
    values = column[~missing]
    if kind == "numeric" and not _is_number(values):
        problems.append(ColumnProblem(name, f"numeric feature has non-numeric value(s) {_non_numeric(values)}; "
                                            "declare it categorical or clean the values"))
    elif kind == "boolean" and not _is_boolean(values):
        problems.append(ColumnProblem(name, f"boolean feature has value(s) {_non_boolean(values)}; use "
                                            "true/false, yes/no or 1/0, or declare it categorical"))
    elif kind == "categorical":
        problems += _categorical_problems(values, name, expected_dtype)
    if kind == "numeric" and _is_number(values):
        problems += _non_finite(values, name)
    return problems


def _categorical_problems(values: pd.Series, name: str, expected_dtype: str | None) -> list[ColumnProblem]:
    if _is_number(values) and not ptypes.is_bool_dtype(values) and not _is_integral(values):
        return [ColumnProblem(name, f"categorical feature has fractional value(s) {_non_integers(values)}; "
                                    "categories are text or whole numbers: declare the column numeric")]
    if expected_dtype == INTEGER:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any() or not _is_integral(numbers):
            return [ColumnProblem(name, f"the model learned whole-number categories here; found "
                                        f"{_non_integers(values)}: send the same codes")]
    return []


def check_target(column: pd.Series, name: str, task: str) -> list[ColumnProblem]:
    missing = gaps(column)
    if missing.any():
        return [ColumnProblem(name, f"{int(missing.sum())} row(s) have no target value (row(s) "
                                    f"{_rows(missing)}); label them or drop them")]
    if task == "regression":
        if not _is_number(column) or ptypes.is_bool_dtype(column):
            return [ColumnProblem(name, f"regression target must be numeric; found {_non_numeric(column)}: "
                                        "clean the values, or declare task: classification for class labels")]
        return _non_finite(column, name)
    if _is_number(column) and not ptypes.is_bool_dtype(column) and _non_finite(column, name):
        return _non_finite(column, name)
    counts = column.astype(str).value_counts()
    if len(counts) < 2:
        return [ColumnProblem(name, f"classification needs at least 2 classes; the target has only "
                                    f"{sorted(counts.index)}")]
    single = sorted(str(label) for label, n in counts.items() if n < 2)
    if single:
        return [ColumnProblem(name, f"class(es) {single[:_EXAMPLES]} have a single row; each class needs at "
                                    "least 2 to appear in both training and holdout: add rows or merge classes")]
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


def _is_number(values: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(values) or bool(values.empty)


def _is_integral(values: pd.Series) -> bool:
    if ptypes.is_integer_dtype(values) or ptypes.is_bool_dtype(values) or values.empty:
        return True
    # A CSV integer column with a gap reads as float; integral floats are still integer codes.
    numbers = values.to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    return bool((finite == np.round(finite)).all())


def _is_boolean(values: pd.Series) -> bool:
    if ptypes.is_bool_dtype(values) or values.empty:
        return True
    if _is_number(values):
        return bool(values.isin([0, 1]).all())
    return bool(values.astype(str).str.strip().str.lower().isin(TRUE_WORDS | FALSE_WORDS).all())


def _non_boolean(values: pd.Series) -> list[str]:
    words = values.astype(str).str.strip().str.lower()
    bad = values[~(words.isin(TRUE_WORDS | FALSE_WORDS))]
    return [str(v) for v in dict.fromkeys(bad.tolist())][:_EXAMPLES]


def _non_finite(values: pd.Series, name: str) -> list[ColumnProblem]:
    infinite = pd.Series(np.isinf(values.to_numpy(dtype=float)), index=values.index)
    if infinite.any():
        return [ColumnProblem(name, f"{int(infinite.sum())} non-finite value(s) (inf) at row(s) "
                                    f"{_rows(infinite)}; replace them with finite numbers")]
    return []


def _non_numeric(values: pd.Series) -> list[str]:
    bad = values[pd.to_numeric(values, errors="coerce").isna()]
    return [str(v) for v in dict.fromkeys(bad.tolist())][:_EXAMPLES]


def _non_integers(values: pd.Series) -> list[str]:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() | (numbers != np.round(numbers))]
    return [str(v) for v in dict.fromkeys(bad.tolist())][:_EXAMPLES]


def _rows(mask: pd.Series) -> str:
    """1-based data row numbers (the header is not counted) of the first few hits."""
    positions = np.flatnonzero(mask.to_numpy())[:_EXAMPLES] + 1
    more = ", ..." if int(mask.sum()) > _EXAMPLES else ""
    return ", ".join(str(p) for p in positions) + more
