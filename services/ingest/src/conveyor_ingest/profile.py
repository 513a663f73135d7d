"""Per-column statistics of an accepted dataset, stored next to it for people and for later drift checks."""

import math
from typing import Any

import pandas as pd

from .spec import DatasetSpec
from .validation import dtype_of, gaps

MAX_CATEGORIES = 100  # value counts beyond this are folded into "(other)" to keep profiles small


def profile(frame: pd.DataFrame, spec: DatasetSpec) -> dict[str, Any]:
    """Statistics per column; `imputed_cells` counts the gaps the model's imputers will fill."""
    columns: dict[str, Any] = {}
    imputed_cells = 0
    for feature in spec.features:
        column = frame[feature.name]
        missing = int(gaps(column).sum())
        imputed = missing if feature.missing != "reject" else 0
        imputed_cells += imputed
        stats = {**_base(column, "feature", feature.kind), "count": len(column) - missing, "missing": missing,
                 "imputed": imputed,
                 "missing_policy": feature.missing, "dtype": dtype_of(column, feature.kind)}
        stats.update(_numeric(column) if feature.kind == "numeric" else {"values": _value_counts(column)})
        columns[feature.name] = stats
    for name in spec.sensitive_attributes:
        columns[name] = {**_base(frame[name], "sensitive"), "values": _value_counts(frame[name])}
    if spec.subject_id_column and spec.subject_id_column in frame.columns:  # feedback has no subject ids
        column = frame[spec.subject_id_column]
        columns[spec.subject_id_column] = {**_base(column, "subject_id"), "unique": int(column.nunique())}
    target = frame[spec.target]
    distribution = _value_counts(target) if spec.task == "classification" else _numeric(target)
    columns[spec.target] = {**_base(target, "target"), **distribution}
    return {"rows": len(frame), "task": spec.task, "columns": columns, "target_distribution": distribution,
            "imputed_cells": imputed_cells}


def _base(column: pd.Series, role: str, kind: str | None = None) -> dict[str, Any]:
    stats: dict[str, Any] = {"role": role, "count": int(column.notna().sum()), "missing": int(column.isna().sum())}
    if kind:
        stats["kind"] = kind
    return stats


def _numeric(column: pd.Series) -> dict[str, float | None]:
    values = pd.to_numeric(column, errors="coerce").astype(float)
    return {"mean": _finite(values.mean()), "std": _finite(values.std()),
            "min": _finite(values.min()), "max": _finite(values.max())}


def _value_counts(column: pd.Series) -> dict[str, int]:
    counts = column.value_counts(dropna=True)
    folded = {str(value): int(n) for value, n in counts.iloc[:MAX_CATEGORIES].items()}
    if len(counts) > MAX_CATEGORIES:
        folded["(other)"] = int(counts.iloc[MAX_CATEGORIES:].sum())
    return folded


def _finite(value: Any) -> float | None:
    """JSON has no NaN: a statistic that does not exist (e.g. std of one row) is null."""
    number = float(value)
    return number if math.isfinite(number) else None
