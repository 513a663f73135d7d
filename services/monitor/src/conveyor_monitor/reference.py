"""The training reference sample the trainer writes (see the cross-service agreement), validated once."""

import math
from dataclasses import dataclass
from typing import Any

from conveyor_kernel import InvalidMessage

from .drift import CATEGORICAL, NUMERIC


@dataclass(frozen=True)
class Reference:
    feature_names: tuple[str, ...]
    kinds: dict[str, str]
    columns: dict[str, list[Any]]
    predictions: list[Any]
    task: str
    class_labels: tuple[str, ...]

    @property
    def prediction_kind(self) -> str:
        return NUMERIC if self.task == "regression" else CATEGORICAL


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
        if kind not in (NUMERIC, CATEGORICAL):
            raise bad(f"kinds[{name!r}] is {kind!r}; use 'numeric' or 'categorical'")
        values = columns.get(name)
        if not isinstance(values, list) or len(values) < 2:
            raise bad(f"columns[{name!r}] must list at least 2 training values")
        if kind == NUMERIC and not all(_finite(v) for v in values):
            raise bad(f"columns[{name!r}] holds a non-numeric or non-finite value")
    predictions = document.get("predictions", [])
    if not isinstance(predictions, list):
        raise bad("'predictions' must be a list of labels")
    task = document.get("task", "classification")
    if task not in ("classification", "regression"):
        raise bad(f"'task' is {task!r}; use 'classification' or 'regression'")
    return Reference(
        feature_names=tuple(names),
        kinds=kinds,
        columns={n: columns[n] for n in names},
        predictions=predictions,
        task=task,
        class_labels=tuple(str(c) for c in document.get("class_labels", [])),
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
