"""Small real ONNX models (built once per session with scikit-learn + skl2onnx) and a unit-test harness."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Dispatcher, FileStore, topics
from conveyor_kernel.callers import signed
from conveyor_kernel.memory import InMemoryBus
from conveyor_serving.settings import ServingSettings
from conveyor_serving.wiring import create_app

N_FEATURES = 30
FEATURE_NAMES = [f"f{i}" for i in range(N_FEATURES)]


def _renamed(model: onnx.ModelProto, names: dict[str, str]) -> onnx.ModelProto:
    """Rename graph outputs (and every node output feeding them) to the serving contract's names."""
    for node in model.graph.node:
        node.output[:] = [names.get(o, o) for o in node.output]
    for output in model.graph.output:
        output.name = names.get(output.name, output.name)
    return model


def _classifier_onnx(estimator, tensor_type=FloatTensorType, output_names=("label", "probabilities")) -> bytes:
    model = to_onnx(estimator, initial_types=[("input", tensor_type([None, N_FEATURES]))],
                    options={id(estimator): {"zipmap": False}}, target_opset=17)
    produced = [o.name for o in model.graph.output]  # skl2onnx names them label/probabilities or output_*
    return _renamed(model, dict(zip(produced, output_names, strict=True))).SerializeToString()


COLUMNS = ["age", "income", "visits", "member", "city", "plan"]
COLUMN_TYPES = {"age": "FP32", "income": "FP64", "visits": "INT64", "member": "BOOL", "city": "BYTES", "plan": "BYTES"}


@dataclass
class ColumnModel:
    """A table pipeline exported whole with one input per column, as the trainer exports it."""

    pipeline: Pipeline
    uri: str
    holdout: pd.DataFrame  # with missing values (NaN age, "" city) and an unseen category ("west")
    worded: Pipeline  # the same table with text class labels ("yes"/"no"): its ONNX label output is a string
    worded_uri: str
    types: dict[str, str] = field(default_factory=lambda: dict(COLUMN_TYPES))  # column -> OIP datatype

    @property
    def columns(self) -> list[str]:
        return list(self.types)


def _table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    table = pd.DataFrame({
        "age": rng.normal(40, 10, n).astype(np.float32), "income": rng.normal(50, 15, n),
        "visits": rng.integers(0, 10, n).astype(np.int64), "member": rng.random(n) > 0.5,
        "city": rng.choice(["north", "south", "east", ""], n), "plan": rng.choice(["basic", "pro"], n),
    })
    table.loc[::7, "age"] = np.nan
    return table


def _column_onnx(pipeline: Pipeline) -> bytes:
    """skl2onnx export with one input per column. ONNX Runtime has no float64 Imputer and the exporter mixes
    float and double badly, so `income` is exported as float32 and then given a float64 input that is cast:
    the served signature has every datatype a table brings (FP32 with gaps, FP64, INT64, BOOL, strings)."""
    types = {"FP32": FloatTensorType, "FP64": FloatTensorType, "INT64": Int64TensorType, "BOOL": BooleanTensorType,
             "BYTES": StringTensorType}
    model = to_onnx(pipeline, initial_types=[(c, types[COLUMN_TYPES[c]]([None, 1])) for c in COLUMNS],
                    options={id(pipeline.steps[-1][1]): {"zipmap": False}}, target_opset=17)
    graph = model.graph
    for node in graph.node:
        node.input[:] = ["income_f32" if i == "income" else i for i in node.input]
    graph.node.insert(0, helper.make_node("Cast", ["income"], ["income_f32"], to=TensorProto.FLOAT))
    next(i for i in graph.input if i.name == "income").type.tensor_type.elem_type = TensorProto.DOUBLE
    return model.SerializeToString()


def _column_pipeline() -> Pipeline:
    return Pipeline([
        ("columns", ColumnTransformer([
            ("age", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["age"]),
            ("numbers", StandardScaler(), ["income", "visits"]),
            ("flags", "passthrough", ["member"]),
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ])),
        ("estimator", LogisticRegression(max_iter=1000)),
    ])


def _column_model(put) -> ColumnModel:
    rng = np.random.default_rng(7)
    train = _table(rng, 600)
    target = ((train["age"].fillna(40) > 40) ^ (train["city"] == "north") ^ train["member"]).astype(int)
    pipeline = _column_pipeline().fit(train, target)
    worded = _column_pipeline().fit(train, target.map({0: "no", 1: "yes"}))
    holdout = _table(rng, 12)
    holdout.loc[3, "city"] = "west"  # never seen in training
    return ColumnModel(pipeline, put(_column_onnx(pipeline)), holdout, worded, put(_column_onnx(worded)))


def _identity_onnx(datatypes: dict[str, int]) -> bytes:
    """A folder model echoing one input of every ONNX datatype OIP carries, at rank 2 with any sizes."""
    nodes, inputs, outputs = [], [], []
    for name, elem in datatypes.items():
        inputs.append(helper.make_tensor_value_info(f"in_{name}", elem, ["batch", "n"]))
        outputs.append(helper.make_tensor_value_info(f"out_{name}", elem, ["batch", "n"]))
        nodes.append(helper.make_node("Identity", [f"in_{name}"], [f"out_{name}"]))
    graph = helper.make_graph(nodes, "identity", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


IDENTITY_TYPES = {
    "BOOL": TensorProto.BOOL, "UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32, "UINT64": TensorProto.UINT64, "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16, "INT32": TensorProto.INT32, "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16, "FP32": TensorProto.FLOAT, "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}


@dataclass
class Models:
    data_dir: Path
    X: np.ndarray  # standardized breast-cancer features, float32
    v1: LogisticRegression
    v2: LogisticRegression
    v1_uri: str
    v2_uri: str
    wrong_outputs_uri: str  # outputs named output_label/output_probability
    double_input_uri: str  # input is float64
    garbage_uri: str
    regression_uri: str
    regression: LinearRegression
    X_reg: np.ndarray
    columns: ColumnModel
    identity_uri: str  # inputs in_<DATATYPE>, outputs out_<DATATYPE>: every datatype, echoed


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    data_dir = tmp_path_factory.mktemp("serving-data")
    store = FileStore(data_dir / "artifacts")
    X, y = load_breast_cancer(return_X_y=True)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    v1 = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
    v2 = LogisticRegression(C=0.01, max_iter=1000).fit(X, y)  # visibly different probabilities
    X_reg, y_reg = load_diabetes(return_X_y=True)
    X_reg = X_reg.astype(np.float32)
    regression = LinearRegression().fit(X_reg, y_reg)
    regression_onnx = to_onnx(regression, initial_types=[("input", FloatTensorType([None, X_reg.shape[1]]))])

    def put(data: bytes) -> str:
        return store.put("models", data, ".onnx")[1]

    return Models(
        data_dir=data_dir, X=X, v1=v1, v2=v2,
        v1_uri=put(_classifier_onnx(v1)),
        v2_uri=put(_classifier_onnx(v2)),
        wrong_outputs_uri=put(_classifier_onnx(v2, output_names=("output_label", "output_probability"))),
        double_input_uri=put(_classifier_onnx(v2, tensor_type=DoubleTensorType)),
        garbage_uri=put(b"this is not an onnx model"),
        regression_uri=put(regression_onnx.SerializeToString()),
        regression=regression, X_reg=X_reg, columns=_column_model(put),
        identity_uri=put(_identity_onnx(IDENTITY_TYPES)),
    )


class Harness:
    """A serving app on an InMemoryBus; promotions are delivered through the real Dispatcher."""

    def __init__(self, client: TestClient, bus: InMemoryBus) -> None:
        self.client = client
        self.bus = bus
        self.serving = client.app.state.serving
        self.dispatcher = Dispatcher(client.app.state.handlers, group="serving-test", max_retries=0)

    def promote(self, name: str, version: int, uri: str, action: str = "promote", **fields) -> None:
        fields.setdefault("feature_names", FEATURE_NAMES)
        fields.setdefault("task", ev.TASK_CLASSIFICATION)
        event = ev.ModelPromoted(model_name=name, version=version, artifact_uri=uri, action=action, **fields)

        async def deliver() -> None:
            start = len(self.bus.records)
            await self.bus.publish(event, subject=event.model_name)
            await self.bus.drain(self.dispatcher, [topics.REGISTRY], start)

        self.client.portal.call(deliver)  # on the app's own event loop, like the Kafka consumer

    def split(self, name: str, mode: str, version: int = 0, uri: str = "", weight: float = 0.0) -> None:
        event = ev.TrafficSplitSet(model_name=name, mode=mode, candidate_version=version, candidate_artifact_uri=uri,
                                   canary_weight=weight, feature_names=FEATURE_NAMES, task=ev.TASK_CLASSIFICATION)

        async def deliver() -> None:
            start = len(self.bus.records)
            await self.bus.publish(event, subject=name)
            await self.bus.drain(self.dispatcher, [topics.REGISTRY], start)

        self.client.portal.call(deliver)

    def infer(self, rows: np.ndarray, path: str = "/v2/models/cancer/infer", request_id: str | None = None):
        body = {"inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32",
                            "data": rows.tolist()}]}
        if request_id:
            body["id"] = request_id
        return self.client.post(path, json=body)

    def dead_letter_reasons(self) -> list[str]:
        return [dict(r.headers)["dlq_reason"].decode() for r in self.bus.on(topics.DEAD_LETTER)]

    def metric(self, name: str, **labels: str) -> float:
        value = self.serving.ports.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
def make_serving(models: Models):
    @contextmanager
    def make(**overrides) -> Iterator[Harness]:
        overrides.setdefault("grpc_port", 0)  # a free port: tests run side by side
        settings = ServingSettings(data_dir=models.data_dir, instance="test-instance", **overrides)
        bus = InMemoryBus(source="serving")
        with signed(TestClient(create_app(settings, transport=bus))) as client:
            yield Harness(client, bus)

    return make


@pytest.fixture
def serving(make_serving) -> Iterator[Harness]:
    with make_serving(max_batch_rows=50) as harness:
        yield harness


@pytest.fixture
def model_folder(models: Models, tmp_path: Path) -> Path:
    """DIR/<model>/<version>/model.onnx: cancer v1+v2 (Conveyor contract) and `plain` (skl2onnx's own names)."""
    store = FileStore(models.data_dir / "artifacts")
    for name, version, uri in [("cancer", 1, models.v1_uri), ("cancer", 2, models.v2_uri),
                               ("plain", 3, models.wrong_outputs_uri), ("identity", 1, models.identity_uri),
                               ("table", 1, models.columns.uri)]:
        target = tmp_path / "repo" / name / str(version)
        target.mkdir(parents=True)
        (target / "model.onnx").write_bytes(store.get(uri))
    (tmp_path / "repo" / "cancer" / "notes").mkdir()  # not a version: ignored
    return tmp_path / "repo"


@pytest.fixture
def standalone(models: Models, model_folder: Path) -> Iterator[TestClient]:
    settings = ServingSettings(data_dir=models.data_dir, model_repository=model_folder, kafka_enabled=False,
                               max_batch_rows=50, grpc_port=0)
    with signed(TestClient(create_app(settings))) as client:
        yield client
