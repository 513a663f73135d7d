"""ONNX export of the whole pipeline, preprocessing included, and the parity check that guards it.

Contract: one input per feature column, named as the column, shape [None, 1]: float32, or string for text
categories (a missing text is "", see `columns.py`). Classification outputs "label" (int64 for whole-number
classes, string otherwise) and "probabilities" (float32, zipmap off, columns in class_labels order);
regression outputs "variable" (float32 [None, 1]). The metadata_props "conveyor.class_labels" and
"conveyor.inputs" (JSON) say the same for readers without the ModelTrained event.
"""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from sklearn.pipeline import Pipeline

from conveyor.events.v1 import events_pb2 as ev

from .adapters import fast_trees, skl2onnx_fix  # noqa: F401 - converter repairs and speed-ups, applied on import
from .columns import MISSING_TEXT, Column, onnx_feed
from .failures import TrainingFailure

CLASSIFICATION_OUTPUTS = ("label", "probabilities")
REGRESSION_OUTPUTS = ("variable",)
CLASS_LABELS_KEY, INPUTS_KEY = "conveyor.class_labels", "conveyor.inputs"
UNSEEN_TEXT, UNSEEN_CODE = "\x00unseen category", 987654.0
EDGE_ROWS, PARITY_ROWS = 12, 2000


def _rename_outputs(model: onnx.ModelProto, wanted: tuple[str, ...]) -> None:
    """Give graph outputs the contract's names, whatever the converter called them."""
    graph = model.graph
    if len(graph.output) != len(wanted):
        got = [o.name for o in graph.output]
        raise TrainingFailure("export", f"converter produced outputs {got}, expected {list(wanted)}")
    for output, name in zip(graph.output, wanted, strict=True):
        old = output.name
        if old == name:
            continue
        for node in graph.node:
            node.output[:] = [name if o == old else o for o in node.output]
            node.input[:] = [name if i == old else i for i in node.input]
        output.name = name


def _restore_input_names(model: onnx.ModelProto, columns: list[Column]) -> None:
    """skl2onnx turns a column "mean radius" into the input "mean_radius"; the contract is name = column, and
    ONNX itself allows any string, so give each input its column's name back (inputs keep the declared order)."""
    graph = model.graph
    if [i.name for i in graph.input] == [c.name for c in columns]:
        return
    if len(graph.input) != len(columns):
        got = [i.name for i in graph.input]
        raise TrainingFailure("export", f"converter produced inputs {got}, expected one per column")
    for graph_input, column in zip(graph.input, columns, strict=True):
        old = graph_input.name
        for node in graph.node:
            node.input[:] = [column.name if i == old else i for i in node.input]
        graph_input.name = column.name


def export_onnx(pipeline: Pipeline, task: int, columns: list[Column], opset: int, name: str,
                class_labels: list[str]) -> bytes:
    """Serialized ONNX; byte-identical for the same fitted pipeline (the graph is named, not given a uuid)."""
    estimator = pipeline.steps[-1][1]
    classification = task == ev.TASK_CLASSIFICATION
    options = {id(estimator): {"zipmap": False}} if classification else None
    try:
        model = convert_sklearn(
            pipeline,
            initial_types=[(c.name, c.onnx_type()) for c in columns],
            options=options,
            target_opset={"": opset, "ai.onnx.ml": 3},
        )
    except Exception as exc:  # noqa: BLE001 - the converter raises many types for unsupported models
        raise TrainingFailure("export", f"skl2onnx could not convert: {type(exc).__name__}: {exc}") from exc
    _rename_outputs(model, CLASSIFICATION_OUTPUTS if classification else REGRESSION_OUTPUTS)
    _restore_input_names(model, columns)
    model.graph.name = name  # skl2onnx picks a random uuid, which would defeat content addressing
    inputs = [{"name": c.name, "datatype": c.datatype, "kind": c.kind_name} for c in columns]
    onnx.helper.set_model_props(model, {CLASS_LABELS_KEY: json.dumps(class_labels), INPUTS_KEY: json.dumps(inputs)})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def parity_rows(x: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """Holdout rows plus rows made on purpose: unseen categories everywhere, then gaps wherever the policy
    lets the model impute. These are the rows where a converter most easily disagrees."""
    base = x.head(PARITY_ROWS)
    edge = x.head(EDGE_ROWS)
    unseen, gaps = edge.copy(), edge.copy()
    for column in columns:
        if column.kind == ev.COLUMN_KIND_CATEGORICAL:
            unseen[column.name] = UNSEEN_TEXT if column.text else np.float32(UNSEEN_CODE)
        if column.missing != ev.MISSING_POLICY_REJECT:
            gaps[column.name] = MISSING_TEXT if column.text else np.float32(np.nan)
    return pd.concat([base, unseen, gaps], ignore_index=True)


def parity_max_abs_diff(
    onnx_bytes: bytes, pipeline: Pipeline, task: int, x: pd.DataFrame, columns: list[Column], tolerance: float,
    regression_tolerance: float,
) -> float:
    """Run both on the same rows; raise TrainingFailure('parity') past the tolerance."""
    rows = parity_rows(x, columns)
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, onnx_feed(rows, columns))
    what = f"{len(rows)} rows (holdout, unseen categories, gaps)"
    if task == ev.TASK_CLASSIFICATION:
        labels, proba = outputs
        expected_proba = pipeline.predict_proba(rows)
        diff = float(np.max(np.abs(proba - expected_proba))) if len(rows) else 0.0
        expected_labels = pipeline.classes_[np.argmax(expected_proba, axis=1)]  # what predict() returns
        mismatched = int(np.sum(labels.reshape(-1) != expected_labels))
        if diff > tolerance or mismatched:
            raise TrainingFailure(
                "parity",
                f"ONNX differs from scikit-learn on {what}: max |proba diff| {diff:.3g} "
                f"(tolerance {tolerance:.3g}), {mismatched} label(s) differ",
            )
        return diff
    expected = pipeline.predict(rows)
    got = outputs[0].reshape(-1)
    abs_diff = np.abs(got - expected)
    diff = float(np.max(abs_diff)) if len(rows) else 0.0
    scaled = float(np.max(abs_diff / np.maximum(1.0, np.abs(expected)))) if len(rows) else 0.0
    if not np.isfinite(scaled) or scaled > regression_tolerance:
        raise TrainingFailure(
            "parity",
            f"ONNX differs from scikit-learn on {what}: max |diff| {diff:.3g}, "
            f"relative {scaled:.3g} (tolerance {regression_tolerance:.3g})",
        )
    return diff
