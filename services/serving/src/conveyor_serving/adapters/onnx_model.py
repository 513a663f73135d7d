"""Loading an ONNX artifact into ONNX Runtime and checking it honours the serving contract.

Contract: exactly one float32 input of rank 2 ([rows, n_features]); classification models output "label"
(int64, [rows]) and "probabilities" (float32, [rows, k]); regression models output "variable" (float32).
A model that breaks it raises ModelRefused with a reason naming what is wrong.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

CLASSIFICATION = "classification"
REGRESSION = "regression"
OTHER = "other"  # a model from a model-repository folder whose outputs follow no Conveyor contract

# ONNX Runtime type strings → Open Inference Protocol datatypes
OIP_DATATYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(string)": "BYTES",
    "tensor(bool)": "BOOL",
}
_REQUIRED_OUTPUTS = {
    CLASSIFICATION: {"label": "tensor(int64)", "probabilities": "tensor(float)"},
    REGRESSION: {"variable": "tensor(float)"},
}


class ModelRefused(Exception):  # noqa: N818 - reads as "the model was refused"
    """The artifact cannot be served; the reason says why."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: list[int]  # -1 for a dimension that varies (the batch)

    def as_metadata(self) -> dict[str, object]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


@dataclass(frozen=True, eq=False)
class LoadedModel:
    name: str
    version: int
    artifact_uri: str
    session: ort.InferenceSession
    task: str
    input: TensorSpec
    outputs: list[TensorSpec]
    feature_names: list[str] = field(default_factory=list)
    class_labels: list[str] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return self.input.shape[1]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]


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
    return TensorSpec(arg.name, OIP_DATATYPES.get(arg.type, arg.type), shape)


def _class_labels(graph: onnx.GraphProto) -> list[str]:
    """The classes a classifier node declares (skl2onnx keeps them on the ai.onnx.ml node)."""
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name.startswith("classlabels_"):
                values = helper.get_attribute_value(attribute)
                return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    return []


def _task_of(outputs: dict[str, str], declared: str) -> str:
    if declared:
        return declared
    return CLASSIFICATION if "label" in outputs else REGRESSION


def load_model(
    path: Path, name: str, version: int, artifact_uri: str, feature_names: list[str], task: str = "",
    strict: bool = True,
) -> LoadedModel:
    """Read, check and smoke-run the model; raise ModelRefused when it cannot be served.

    `strict=False` (model-repository folders) serves any single-float-input model: outputs that follow no
    Conveyor contract are returned as they are, and the task is OTHER.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelRefused(f"artifact {artifact_uri} cannot be read: {exc}") from exc
    try:
        proto = onnx.load_model_from_string(data)
        session = ort.InferenceSession(data, sess_options=_session_options(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnx/onnxruntime raise many types for a bad file
        raise ModelRefused(f"artifact {artifact_uri} is not a loadable ONNX model: {exc}") from exc

    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelRefused(f"model must have exactly one input, it has {len(inputs)}")
    (arg,) = inputs
    if arg.type != "tensor(float)":
        raise ModelRefused(f"input {arg.name!r} must be a float32 tensor, it is {arg.type}")
    input_spec = _spec(arg)
    if len(input_spec.shape) != 2:
        raise ModelRefused(f"input {arg.name!r} must have rank 2 [rows, features], it has shape {arg.shape}")
    n_features = input_spec.shape[1]
    if n_features == -1 and feature_names:
        n_features = len(feature_names)
        input_spec = TensorSpec(input_spec.name, input_spec.datatype, [-1, n_features])
    if feature_names and n_features != len(feature_names):
        raise ModelRefused(f"input {arg.name!r} takes {n_features} features but {len(feature_names)} "
                           "feature_names were given")
    if n_features < 1:
        raise ModelRefused(f"input {arg.name!r} has no fixed feature count and no feature_names were given")

    output_types = {o.name: o.type for o in session.get_outputs()}
    maps = [n for n, t in output_types.items() if not t.startswith("tensor(")]
    if maps:
        raise ModelRefused(f"outputs {maps} are not tensors (sequences or maps); export with zipmap disabled")
    resolved_task = _task_of(output_types, task)
    for out_name, out_type in _REQUIRED_OUTPUTS[resolved_task].items():
        if output_types.get(out_name) != out_type:
            if not strict:
                resolved_task = OTHER
                break
            raise ModelRefused(f"a {resolved_task} model must output {out_name!r} as {out_type}; "
                               f"its outputs are {output_types}")

    model = LoadedModel(
        name=name, version=version, artifact_uri=artifact_uri, session=session, task=resolved_task,
        input=TensorSpec(arg.name, "FP32", [-1, n_features]),
        outputs=[_spec(o) for o in session.get_outputs()],
        feature_names=list(feature_names), class_labels=_class_labels(proto.graph),
    )
    _smoke_run(model)
    return model


def _smoke_run(model: LoadedModel) -> None:
    """One row of zeros through the graph: a model that cannot run is refused now, not on the first request."""
    try:
        results = model.session.run(None, {model.input.name: np.zeros((1, model.n_features), np.float32)})
    except Exception as exc:  # noqa: BLE001 - any failure here means the model is unusable
        raise ModelRefused(f"model fails on a {model.n_features}-feature row: {exc}") from exc
    produced = dict(zip(model.output_names, results, strict=True))
    first = produced.get("label", produced.get("variable", results[0]))
    if not hasattr(first, "shape") or first.shape[0] != 1:
        raise ModelRefused("model does not return one prediction per input row")

