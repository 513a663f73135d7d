"""ONNX export to the cross-service model contract, and the parity check that guards it.

Contract: one float32 input "input" [None, n_features]; classification outputs "label" (int64) and
"probabilities" (float32, zipmap off); regression output "variable" (float32 [None, 1]).
"""

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.pipeline import Pipeline

from conveyor.events.v1 import events_pb2 as ev

from .recipe import TrainingFailure

INPUT_NAME = "input"
CLASSIFICATION_OUTPUTS = ("label", "probabilities")
REGRESSION_OUTPUTS = ("variable",)


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


def export_onnx(pipeline: Pipeline, task: int, n_features: int, opset: int, name: str) -> bytes:
    """Serialized ONNX; byte-identical for the same fitted pipeline (the graph is named, not given a uuid)."""
    estimator = pipeline.steps[-1][1]
    classification = task == ev.TASK_CLASSIFICATION
    options = {id(estimator): {"zipmap": False}} if classification else None
    try:
        model = convert_sklearn(
            pipeline,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
            options=options,
            target_opset={"": opset, "ai.onnx.ml": 3},
        )
    except Exception as exc:  # noqa: BLE001 - the converter raises many types for unsupported models
        raise TrainingFailure("export", f"skl2onnx could not convert: {type(exc).__name__}: {exc}") from exc
    _rename_outputs(model, CLASSIFICATION_OUTPUTS if classification else REGRESSION_OUTPUTS)
    model.graph.name = name  # skl2onnx picks a random uuid, which would defeat content addressing
    onnx.checker.check_model(model)
    return model.SerializeToString()


def parity_max_abs_diff(
    onnx_bytes: bytes, pipeline: Pipeline, task: int, x: np.ndarray, tolerance: float, regression_tolerance: float
) -> float:
    """Run both on the same float32 rows; raise TrainingFailure('parity') past the tolerance."""
    x32 = x.astype(np.float32)
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {INPUT_NAME: x32})
    if task == ev.TASK_CLASSIFICATION:
        labels, proba = outputs
        expected_proba = pipeline.predict_proba(x32)
        diff = float(np.max(np.abs(proba - expected_proba))) if len(x32) else 0.0
        mismatched = int(np.sum(labels != pipeline.predict(x32)))
        if diff > tolerance or mismatched:
            raise TrainingFailure(
                "parity",
                f"ONNX differs from scikit-learn on {len(x32)} holdout rows: max |proba diff| {diff:.3g} "
                f"(tolerance {tolerance:.3g}), {mismatched} label(s) differ",
            )
        return diff
    expected = pipeline.predict(x32)
    got = outputs[0].reshape(-1)
    abs_diff = np.abs(got - expected)
    diff = float(np.max(abs_diff)) if len(x32) else 0.0
    scaled = float(np.max(abs_diff / np.maximum(1.0, np.abs(expected)))) if len(x32) else 0.0
    if scaled > regression_tolerance:
        raise TrainingFailure(
            "parity",
            f"ONNX differs from scikit-learn on {len(x32)} holdout rows: max |diff| {diff:.3g}, "
            f"relative {scaled:.3g} (tolerance {regression_tolerance:.3g})",
        )
    return diff
