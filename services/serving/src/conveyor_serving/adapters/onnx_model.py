"""Loading an ONNX artifact into ONNX Runtime and checking it honours the serving contract.

Inputs (the ONNX graph's inputs ARE the signature), one of two layouts for a Conveyor model:
- MATRIX: exactly one float32 input of rank 2 ([rows, n_features]): the models trained before per-column
  inputs, and any single-matrix model.
- COLUMNS: one input per column (name = column), each [rows] or [rows, 1], FP32/FP64/INT64/INT32/BOOL or
  string (BYTES): a pipeline that carries its own preprocessing, so clients send raw values.
A model-repository folder model (`strict=False`) may take any inputs (TENSORS: any datatype, any rank).
Outputs: classification models output "label" (int64 or string, [rows]) and "probabilities" (float32,
[rows, k]); regression models output "variable" (float32). A model that breaks it raises ModelRefused.
"""

from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from ..tensors import DTYPES, ONNX_TO_OIP

CLASSIFICATION = "classification"
REGRESSION = "regression"
OTHER = "other"  # a model from a model-repository folder whose outputs follow no Conveyor contract

MATRIX, COLUMNS, TENSORS = "matrix", "columns", "tensors"
_COLUMN_TYPES = frozenset({"FP32", "FP64", "INT64", "INT32", "BOOL", "BYTES"})
_REQUIRED_OUTPUTS = {
    CLASSIFICATION: {"label": ("tensor(int64)", "tensor(string)"), "probabilities": ("tensor(float)",)},
    REGRESSION: {"variable": ("tensor(float)",)},
}


class ModelRefused(Exception):  # noqa: N818 - reads as "the model was refused"
    """The artifact cannot be served; the reason says why."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # OIP datatype
    shape: list[int]  # -1 for a dimension that varies (the batch)

    def as_metadata(self) -> dict[str, object]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}

    @property
    def dtype(self) -> np.dtype:
        return DTYPES[self.datatype]

    @property
    def batched(self) -> bool:
        return bool(self.shape) and self.shape[0] == -1


@dataclass(frozen=True, eq=False)
class LoadedModel:
    name: str
    version: int
    artifact_uri: str
    session: ort.InferenceSession
    task: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    layout: str  # MATRIX | COLUMNS | TENSORS
    feature_names: list[str] = field(default_factory=list)  # COLUMNS: the columns, in the dataset's order
    class_labels: list[str] = field(default_factory=list)
    input_by_name: dict[str, TensorSpec] = field(default_factory=dict)
    output_names: list[str] = field(default_factory=list)

    @property
    def input(self) -> TensorSpec:
        """The one input of a MATRIX model."""
        return self.inputs[0]

    @property
    def n_features(self) -> int:
        return self.inputs[0].shape[1] if self.layout == MATRIX else len(self.inputs)

    @property
    def text_columns(self) -> list[str]:
        return [spec.name for spec in self.inputs if spec.datatype == "BYTES"] if self.layout == COLUMNS else []


def _session_options() -> ort.SessionOptions:
    # One thread per session: requests run concurrently, so intra-op threads would only fight for the cores.
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _spec(arg: ort.NodeArg) -> TensorSpec:
    shape = [d if isinstance(d, int) else -1 for d in (arg.shape or [])]
    datatype = ONNX_TO_OIP.get(arg.type)
    if datatype is None:
        raise ModelRefused(f"tensor {arg.name!r} has type {arg.type}, which the Open Inference Protocol cannot carry")
    return TensorSpec(arg.name, datatype, shape)


def _class_labels(graph: onnx.GraphProto) -> list[str]:
    """The classes a classifier node declares (skl2onnx keeps them on the ai.onnx.ml node)."""
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name.startswith("classlabels_"):
                values = helper.get_attribute_value(attribute)
                return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    return []


def _is_column(spec: TensorSpec) -> bool:
    return spec.datatype in _COLUMN_TYPES and (spec.shape in ([-1], [-1, 1]))


def _layout(inputs: list[TensorSpec], feature_names: list[str], strict: bool) -> str:
    single = inputs[0] if len(inputs) == 1 else None
    if single is not None and single.datatype == "FP32" and len(single.shape) == 2:
        # [rows, 1] is one column too; it is a one-feature matrix when the features are named otherwise
        if single.shape[1] != 1 or (feature_names and feature_names != [single.name]):
            return MATRIX
    if all(_is_column(spec) for spec in inputs):
        return COLUMNS
    if strict:
        found = [spec.as_metadata() for spec in inputs]
        raise ModelRefused("model inputs must be one float32 [rows, features] matrix or one input per column "
                           f"([rows] or [rows, 1] of FP32/FP64/INT64/INT32/BOOL/string); it has {found}")
    return TENSORS


def _checked_matrix(spec: TensorSpec, feature_names: list[str]) -> TensorSpec:
    n_features = spec.shape[1]
    if n_features == -1 and feature_names:
        n_features = len(feature_names)
    if feature_names and n_features != len(feature_names):
        raise ModelRefused(f"input {spec.name!r} takes {n_features} features but {len(feature_names)} "
                           "feature_names were given")
    if n_features < 1:
        raise ModelRefused(f"input {spec.name!r} has no fixed feature count and no feature_names were given")
    return TensorSpec(spec.name, "FP32", [-1, n_features])


def _column_names(inputs: list[TensorSpec], feature_names: list[str]) -> list[str]:
    """The columns in the dataset's order (the promotion's feature_names) or else the graph's."""
    names = [spec.name for spec in inputs]
    if not feature_names:
        return names
    if sorted(feature_names) != sorted(names):
        missing, extra = sorted(set(feature_names) - set(names)), sorted(set(names) - set(feature_names))
        raise ModelRefused(f"the model's inputs {names} are not the feature_names {list(feature_names)} "
                           f"(missing inputs {missing}, inputs not in feature_names {extra})")
    return list(feature_names)


def _task_of(outputs: dict[str, str], declared: str) -> str:
    if declared:
        return declared
    return CLASSIFICATION if "label" in outputs else REGRESSION


def load_model(
    data: bytes, name: str, version: int, artifact_uri: str, feature_names: list[str], task: str = "",
    strict: bool = True,
) -> LoadedModel:
    """Read, check and smoke-run the model; raise ModelRefused when it cannot be served.

    `strict=False` (model-repository folders) serves any model whose tensors OIP can carry: outputs that
    follow no Conveyor contract are returned as they are, and the task is OTHER.
    """
    try:
        proto = onnx.load_model_from_string(data)
        session = ort.InferenceSession(data, sess_options=_session_options(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnx/onnxruntime raise many types for a bad file
        raise ModelRefused(f"artifact {artifact_uri} is not a loadable ONNX model: {exc}") from exc

    inputs = [_spec(arg) for arg in session.get_inputs()]
    if not inputs:
        raise ModelRefused("model has no inputs")
    if strict and len(inputs) == 1 and inputs[0].datatype != "FP32" and not _is_column(inputs[0]):
        raise ModelRefused(f"input {inputs[0].name!r} must be a float32 tensor, it is {inputs[0].datatype}")
    layout = _layout(inputs, list(feature_names), strict)
    if layout == MATRIX:
        inputs = [_checked_matrix(inputs[0], feature_names)]
        columns = list(feature_names)
    else:
        columns = _column_names(inputs, feature_names) if layout == COLUMNS else list(feature_names)

    output_types = {o.name: o.type for o in session.get_outputs()}
    maps = [n for n, t in output_types.items() if not t.startswith("tensor(")]
    if maps:
        raise ModelRefused(f"outputs {maps} are not tensors (sequences or maps); export with zipmap disabled")
    resolved_task = _task_of(output_types, task)
    for out_name, allowed in _REQUIRED_OUTPUTS[resolved_task].items():
        if output_types.get(out_name) not in allowed:
            if not strict:
                resolved_task = OTHER
                break
            raise ModelRefused(f"a {resolved_task} model must output {out_name!r} as {' or '.join(allowed)}; "
                               f"its outputs are {output_types}")

    outputs = [_spec(o) for o in session.get_outputs()]
    model = LoadedModel(
        name=name, version=version, artifact_uri=artifact_uri, session=session, task=resolved_task,
        inputs=inputs, outputs=outputs, layout=layout, feature_names=columns,
        class_labels=_class_labels(proto.graph), input_by_name={spec.name: spec for spec in inputs},
        output_names=[o.name for o in outputs],
    )
    _smoke_run(model)
    return model


def _example(spec: TensorSpec) -> np.ndarray:
    shape = [1 if d == -1 else d for d in spec.shape]
    if spec.datatype == "BYTES":
        return np.full(shape, "", dtype=object)
    return np.zeros(shape, dtype=spec.dtype)


def _smoke_run(model: LoadedModel) -> None:
    """One row of zeros (empty strings) through the graph: a model that cannot run is refused now, not on the
    first request. Skipped for a folder model with varying non-batch dimensions: no one row fits them all."""
    if any(-1 in spec.shape[1:] for spec in model.inputs):
        return
    try:
        results = model.session.run(None, {spec.name: _example(spec) for spec in model.inputs})
    except Exception as exc:  # noqa: BLE001 - any failure here means the model is unusable
        raise ModelRefused(f"model fails on a row of zeros: {exc}") from exc
    if model.task == OTHER:
        return
    produced = dict(zip(model.output_names, results, strict=True))
    first = produced.get("label", produced.get("variable", results[0]))
    if not hasattr(first, "shape") or first.shape[0] != 1:
        raise ModelRefused("model does not return one prediction per input row")
