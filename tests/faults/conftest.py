"""A small real champion for the fault tests: an ONNX classifier on three features and its drift reference,
in an artifact folder the services of one test share."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import FileStore

FEATURES = ["x", "y", "z"]
_CONTRACT_NAMES = {"output_label": "label", "output_probability": "probabilities"}  # serving's output names


@dataclass(frozen=True)
class Champion:
    model_uri: str
    reference_uri: str
    X: np.ndarray  # rows the model was fitted on, float32

    def promoted(self, model: str = "m", version: int = 1) -> ev.ModelPromoted:
        return ev.ModelPromoted(model_name=model, version=version, artifact_uri=self.model_uri,
                                reference_uri=self.reference_uri, action="promote", feature_names=FEATURES,
                                task=ev.TASK_CLASSIFICATION)


def make_champion(artifacts: Path) -> Champion:
    store = FileStore(artifacts)
    rng = np.random.default_rng(15)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = to_onnx(LogisticRegression().fit(X, y), initial_types=[("input", FloatTensorType([None, 3]))],
                    options={"zipmap": False}, target_opset=17)
    for node in model.graph.node:
        node.output[:] = [_CONTRACT_NAMES.get(o, o) for o in node.output]
    for output in model.graph.output:
        output.name = _CONTRACT_NAMES.get(output.name, output.name)
    reference = {"feature_names": FEATURES, "kinds": dict.fromkeys(FEATURES, "numeric"),
                 "columns": {name: X[:, i].tolist() for i, name in enumerate(FEATURES)},
                 "predictions": y.tolist(), "task": "classification", "class_labels": ["0", "1"]}
    return Champion(store.put("models", model.SerializeToString(), ".onnx")[1],
                    store.put_json("references", reference)[1], X)


@pytest.fixture
def champion(tmp_path: Path) -> Champion:
    """Under tmp_path/artifacts: the folder of services whose data_dir is tmp_path."""
    return make_champion(tmp_path / "artifacts")
