"""Running an ONNX model that is not this run's pipeline: the champion on the fresh holdout, or a model a
notebook uploaded. Two input layouts are read: one input per column (this platform's models since named
columns, and notebook models), and the older single float32 matrix "input" [rows, features].
"""

import json
from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd

from conveyor.events.v1 import events_pb2 as ev

from ..columns import Column
from ..holdout import Predictions

CLASS_LABELS_KEY = "conveyor.class_labels"
_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


class ModelUnusable(Exception):  # noqa: N818 - names what the caller is told
    """The file is not an ONNX model this platform can run on the dataset's columns."""


class OnnxModel:
    def __init__(self, data: bytes) -> None:
        try:
            self.session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors for bad files
            raise ModelUnusable(f"ONNX Runtime cannot load the file: {exc}") from exc
        self.inputs = self.session.get_inputs()
        self.outputs = [o.name for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        self.class_labels: list[str] | None = json.loads(meta[CLASS_LABELS_KEY]) if CLASS_LABELS_KEY in meta \
            else _graph_class_labels(data)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    def feed(self, x: pd.DataFrame, columns: Sequence[Column]) -> dict[str, np.ndarray]:
        by_name = {c.name: c for c in columns}
        if len(self.inputs) == 1 and self.inputs[0].name not in by_name:
            return self._matrix(x, columns)
        unknown = [name for name in self.input_names if name not in by_name]
        if unknown:
            raise ModelUnusable(f"the model takes input(s) {unknown}, which are not feature columns of the dataset")
        feed = {}
        for arg in self.inputs:
            values = x[arg.name]
            if arg.type == "tensor(string)":
                feed[arg.name] = values.astype(str).to_numpy(dtype=object).reshape(-1, 1)
            elif arg.type in _NUMPY:
                if by_name[arg.name].text:
                    raise ModelUnusable(f"input {arg.name!r} is {arg.type} but the column holds text categories; "
                                        "declare it a string tensor")
                feed[arg.name] = values.to_numpy(dtype=_NUMPY[arg.type]).reshape(-1, 1)
            else:
                raise ModelUnusable(f"input {arg.name!r} has type {arg.type}; use float, double, int64 or string")
        return feed

    def _matrix(self, x: pd.DataFrame, columns: Sequence[Column]) -> dict[str, np.ndarray]:
        arg = self.inputs[0]
        width = arg.shape[1] if len(arg.shape) == 2 else None
        if arg.type != "tensor(float)" or width not in (len(columns), None, "None") or any(c.text for c in columns):
            raise ModelUnusable(f"the model's one input {arg.name!r} {arg.type} {arg.shape} does not take the "
                                f"{len(columns)} feature columns; name one input per column")
        return {arg.name: x[[c.name for c in columns]].to_numpy(dtype=np.float32)}

    def predict(self, x: pd.DataFrame, columns: Sequence[Column], task: int,
                fallback_classes: Sequence[str] = ()) -> Predictions:
        results = dict(zip(self.outputs, self.session.run(None, self.feed(x, columns)), strict=True))
        if task != ev.TASK_CLASSIFICATION:
            values = results.get("variable", next(iter(results.values())))
            return Predictions(np.asarray(values, dtype=np.float64).reshape(-1))
        names = list(results)
        labels = np.asarray(results.get("label", results[names[0]])).reshape(-1)
        raw = results.get("probabilities", results[names[1]] if len(names) > 1 else None)
        texts = self.class_labels or list(fallback_classes)
        if isinstance(raw, list):  # a ZipMap output: one {class: probability} per row
            texts = texts or [str(k) for k in raw[0]]
            raw = np.array([[row[_key(row, t)] for t in texts] for row in raw], dtype=np.float64)
        if raw is None or not texts or np.asarray(raw).shape[1] != len(texts):
            raise ModelUnusable("the model's outputs do not say which class each probability column is; export "
                                "with outputs 'label' and 'probabilities' (zipmap off)")
        classes = np.array([type(labels[0])(t) if labels.dtype.kind in "iu" else t for t in texts]) \
            if len(labels) else np.array(texts)
        return Predictions(labels if labels.dtype.kind in "iu" else labels.astype(str).astype(object),
                           np.asarray(raw, dtype=np.float64), classes)


def _graph_class_labels(data: bytes) -> list[str] | None:
    """The classes a converted classifier stores on its final ai.onnx.ml node, in probability-column order."""
    labels = None
    for node in onnx.load_model_from_string(data).graph.node:
        for attribute in node.attribute:
            if attribute.name == "classlabels_strings":
                labels = [v.decode() for v in attribute.strings]
            elif attribute.name in ("classlabels_int64s", "classlabels_ints"):
                labels = [str(v) for v in attribute.ints]
    return labels


def _key(row: dict, text: str) -> object:
    return text if text in row else type(next(iter(row)))(text)
