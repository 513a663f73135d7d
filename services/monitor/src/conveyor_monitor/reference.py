"""The training reference sample the trainer writes (see the cross-service agreement), validated once.

Keys: `feature_names`, `kinds` (numeric | categorical | boolean), `columns` (raw training values: numbers,
strings or integer codes for categories, booleans; null where the value was missing), `predictions`,
`task`, `class_labels`, and, from issue 11 on, `target` (the dataset's label column; "label" when absent)
and `sensitive_attributes`. Production feedback tables are written with these column names.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from conveyor_kernel import InvalidMessage

from .drift import PreparedColumn, prepare_column
from .stattests import BOOLEAN, CATEGORICAL, NUMERIC, drift_kind

KINDS = (NUMERIC, CATEGORICAL, BOOLEAN)
DEFAULT_TARGET = "label"


@dataclass(frozen=True)
class Reference:
    feature_names: tuple[str, ...]
    kinds: dict[str, str]
    columns: dict[str, list[Any]]
    predictions: list[Any]
    task: str
    class_labels: tuple[str, ...]
    target: str = DEFAULT_TARGET
    sensitive_attributes: tuple[str, ...] = ()
    prepared: tuple[PreparedColumn, ...] = field(default=(), compare=False, repr=False)

    @property
    def prediction_kind(self) -> str:
        return NUMERIC if self.task == "regression" else CATEGORICAL

    def numeric_names(self) -> list[str]:
        """Columns tested as numbers: the multivariate check reads these."""
        return [n for n in self.feature_names if drift_kind(self.kinds[n]) == NUMERIC]


def parse_reference(document: Any, uri: str) -> Reference:
    """Raise InvalidMessage naming the field when the document breaks the reference format."""

    def bad(what: str) -> InvalidMessage:
        return InvalidMessage(f"reference {uri}: {what}")

    if not isinstance(document, dict):
        raise bad("must be a JSON object")
    names = document.get("feature_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise bad("'feature_names' must be a non-empty list of strings")
    kinds = document.get("kinds") or {}
    columns = document.get("columns")
    if not isinstance(kinds, dict) or not isinstance(columns, dict):
        raise bad("'kinds' and 'columns' must be objects keyed by feature name")
    kinds = {name: kinds.get(name, NUMERIC) for name in names}  # unlisted kinds default to numeric
    for name in names:
        kind = kinds[name]
        if kind not in KINDS:
            raise bad(f"kinds[{name!r}] is {kind!r}; use one of {', '.join(KINDS)}")
        values = columns.get(name)
        if not isinstance(values, list) or len([v for v in values if v is not None]) < 2:
            raise bad(f"columns[{name!r}] must list at least 2 training values (null marks a missing one)")
        if kind == NUMERIC and not all(v is None or _finite(v) for v in values):
            raise bad(f"columns[{name!r}] holds a non-numeric or non-finite value (use null for a missing one)")
        if kind != NUMERIC and not all(v is None or isinstance(v, str | int | float | bool) for v in values):
            raise bad(f"columns[{name!r}] holds a value that is not a string, number or boolean")
    predictions = document.get("predictions", [])
    if not isinstance(predictions, list):
        raise bad("'predictions' must be a list of labels")
    task = document.get("task", "classification")
    if task not in ("classification", "regression"):
        raise bad(f"'task' is {task!r}; use 'classification' or 'regression'")
    target = document.get("target") or DEFAULT_TARGET
    sensitive = document.get("sensitive_attributes") or []
    if not isinstance(target, str) or not isinstance(sensitive, list) or not all(isinstance(a, str) for a in sensitive):
        raise bad("'target' must be a column name and 'sensitive_attributes' a list of column names")
    return Reference(
        feature_names=tuple(names),
        kinds=kinds,
        columns={n: columns[n] for n in names},
        predictions=predictions,
        task=task,
        class_labels=tuple(str(c) for c in document.get("class_labels", [])),
        target=target,
        sensitive_attributes=tuple(sensitive),
        prepared=tuple(prepare_column(n, kinds[n], columns[n]) for n in names),
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
