"""The conformance matrix: standard clients, unchanged, against serving.

Rows: tritonclient.http with its defaults (binary tensors in and out), tritonclient.grpc (raw contents),
plain JSON v2, KServe V1; columns: the single-matrix model, the per-column table model, and a folder model
echoing every datatype. Then malformed binary requests, each a 400 naming what is wrong.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http

from conveyor_kernel import FileStore
from conveyor_serving.oip import grpc_predict_v2_pb2 as pb
from conveyor_serving.oip import grpc_predict_v2_pb2_grpc as pb_grpc

DATATYPES = {  # OIP datatype -> numpy dtype of a test tensor
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
    "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}
TABLE_TYPES = {"age": "FP32", "income": "FP64", "visits": "INT64", "member": "BOOL", "city": "BYTES", "plan": "BYTES"}


def _sample(datatype: str, shape=(2, 3)) -> np.ndarray:
    rng = np.random.default_rng(3)
    if datatype == "BYTES":
        return np.array([f"text-{i}-é" for i in range(int(np.prod(shape)))], dtype=np.object_).reshape(shape)
    if datatype == "BOOL":
        return rng.random(shape) > 0.5
    return (rng.random(shape) * 100).astype(DATATYPES[datatype])


def _triton_http(client, name: str, arrays: dict[str, tuple[str, np.ndarray]], module=triton_http, **kwargs):
    inputs = []
    for input_name, (datatype, array) in arrays.items():
        tensor = module.InferInput(input_name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)  # the default: binary (REST), raw contents (gRPC)
        inputs.append(tensor)
    return client.infer(name, inputs, **kwargs)


def _table_arrays(holdout) -> dict[str, tuple[str, np.ndarray]]:
    arrays = {}
    for column, datatype in TABLE_TYPES.items():
        values = holdout[column].to_numpy()
        values = values.astype(np.object_) if datatype == "BYTES" else values.astype(DATATYPES[datatype])
        arrays[column] = (datatype, values.reshape(-1, 1))
    return arrays


@pytest.fixture(scope="module")
def live_server(models, tmp_path_factory):
    """A real `conveyor serving` process: tritonclient.http needs a TCP port (it uses geventhttpclient)."""
    def free() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    root = tmp_path_factory.mktemp("conformance")
    store = FileStore(models.data_dir / "artifacts")
    for name, uri in [("cancer", models.v1_uri), ("table", models.columns.uri), ("identity", models.identity_uri)]:
        (root / "repo" / name / "1").mkdir(parents=True)
        (root / "repo" / name / "1" / "model.onnx").write_bytes(store.get(uri))
    port, grpc_port = free(), free()
    log = (root / "serving.log").open("w")
    conveyor = str(Path(sys.executable).parent / "conveyor")
    process = subprocess.Popen(
        [conveyor, "serving", "--model-repository", str(root / "repo"), "--port", str(port), "--grpc-port",
         str(grpc_port), "--workers", "1"],
        env={**os.environ, "CONVEYOR_KAFKA__BOOTSTRAP_SERVERS": "", "CONVEYOR_DATA_DIR": str(root / "data")},
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    assert process.poll() is None, (root / "serving.log").read_text()
    yield f"127.0.0.1:{port}", f"127.0.0.1:{grpc_port}"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def http_client(live_server):
    return triton_http.InferenceServerClient(live_server[0])


@pytest.fixture(scope="module")
def grpc_client(live_server):
    return triton_grpc.InferenceServerClient(live_server[1])


@pytest.mark.parametrize("module", ["http", "grpc"])
def test_triton_clients_with_their_defaults_on_the_matrix_model(http_client, grpc_client, models, module):
    client, triton = (http_client, triton_http) if module == "http" else (grpc_client, triton_grpc)
    rows = models.X[:5]

    result = _triton_http(client, "cancer", {"input": ("FP32", rows)}, module=triton)

    assert result.as_numpy("label").tolist() == models.v1.predict(rows).tolist()
    np.testing.assert_allclose(result.as_numpy("probabilities"), models.v1.predict_proba(rows), atol=1e-5)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("cancer")
    metadata = client.get_model_metadata("cancer", as_json=True) if module == "grpc" else \
        client.get_model_metadata("cancer")
    assert [i["name"] for i in metadata["inputs"]] == ["input"]


@pytest.mark.parametrize("module", ["http", "grpc"])
def test_triton_clients_send_per_column_tables_with_strings(http_client, grpc_client, models, module):
    client, triton = (http_client, triton_http) if module == "http" else (grpc_client, triton_grpc)
    holdout = models.columns.holdout

    result = _triton_http(client, "table", _table_arrays(holdout), module=triton)

    assert result.as_numpy("label").tolist() == models.columns.pipeline.predict(holdout).tolist()
    np.testing.assert_allclose(result.as_numpy("probabilities"), models.columns.pipeline.predict_proba(holdout),
                               atol=1e-5)


@pytest.mark.parametrize("module", ["http", "grpc"])
@pytest.mark.parametrize("datatype", list(DATATYPES))
def test_every_datatype_round_trips(http_client, grpc_client, module, datatype):
    client, triton = (http_client, triton_http) if module == "http" else (grpc_client, triton_grpc)
    array = _sample(datatype)

    result = _triton_http(client, "identity", {f"in_{datatype}": (datatype, array)} | {
        f"in_{other}": (other, _sample(other)) for other in DATATYPES if other != datatype}, module=triton)

    echoed = result.as_numpy(f"out_{datatype}")
    if datatype == "BYTES":
        assert [v.decode() for v in echoed.ravel()] == array.ravel().tolist()
    else:
        assert echoed.dtype == array.dtype and echoed.tolist() == array.tolist()


def test_every_datatype_round_trips_as_plain_json(live_server):
    inputs = []
    for datatype in DATATYPES:
        array = _sample(datatype)
        data = array.ravel().tolist()
        inputs.append({"name": f"in_{datatype}", "datatype": datatype, "shape": list(array.shape), "data": data})
    answer = httpx.post(f"http://{live_server[0]}/v2/models/identity/infer", json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    for datatype in DATATYPES:
        out = outputs[f"out_{datatype}"]
        assert out["datatype"] == datatype and out["shape"] == [2, 3]
        expected = _sample(datatype).ravel()
        if datatype in ("FP16", "FP32"):  # JSON carries the shortest decimal that reads back as the same value
            assert np.asarray(out["data"], dtype=expected.dtype).tolist() == expected.tolist()
        else:
            assert out["data"] == expected.tolist()


@pytest.mark.parametrize("module", ["http", "grpc"])
def test_classification_returns_the_top_k_with_class_labels(http_client, grpc_client, models, module):
    client, triton = (http_client, triton_http) if module == "http" else (grpc_client, triton_grpc)
    rows = models.X[:3]
    tensor = triton.InferInput("input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    output = triton.InferRequestedOutput("probabilities", class_count=1)

    result = client.infer("cancer", [tensor], outputs=[output])

    top = result.as_numpy("probabilities")
    probabilities = models.v1.predict_proba(rows)
    assert top.shape == (3, 1)
    for row, expected in zip(top[:, 0], probabilities, strict=True):
        value, index, label = row.decode().split(":")
        assert int(index) == int(np.argmax(expected)) and label == str(int(np.argmax(expected)))
        assert float(value) == pytest.approx(expected.max(), abs=1e-5)


def test_json_outputs_can_be_asked_for_in_binary_and_back(live_server, models):
    rows = models.X[:2]
    body = {"inputs": [{"name": "input", "shape": [2, 30], "datatype": "FP32", "data": rows.ravel().tolist()}],
            "outputs": [{"name": "label", "parameters": {"binary_data": True}}, {"name": "probabilities"}]}
    answer = httpx.post(f"http://{live_server[0]}/v2/models/cancer/infer", json=body)
    header = int(answer.headers["inference-header-content-length"])
    document = httpx.Response(200, content=answer.content[:header]).json()
    label, probabilities = document["outputs"]
    assert label["parameters"] == {"binary_data_size": 16} and "data" not in label
    assert np.frombuffer(answer.content[header:], dtype="<i8").tolist() == models.v1.predict(rows).tolist()
    assert len(probabilities["data"]) == 4


def test_kserve_v1_and_the_model_list(live_server, models):
    answer = httpx.post(f"http://{live_server[0]}/v1/models/cancer:predict", json={"instances": models.X[:2].tolist()})
    assert answer.json()["predictions"] == models.v1.predict(models.X[:2]).tolist()
    assert len(answer.json()["probabilities"]) == 2
    assert httpx.get(f"http://{live_server[0]}/v1/models").json() == {"models": ["cancer", "identity", "table"]}


def _binary_body(rows: np.ndarray, size: int | None = None) -> tuple[bytes, int]:
    raw = rows.astype("<f4").tobytes()
    header = httpx.Request("POST", "/", json={"inputs": [
        {"name": "input", "shape": list(rows.shape), "datatype": "FP32",
         "parameters": {"binary_data_size": len(raw) if size is None else size}}]}).content
    return header + raw, len(header)


MALFORMED = {
    "a length that is not a number": (lambda body, n: (body, {"Inference-Header-Content-Length": "twelve"}),
                                      "Inference-Header-Content-Length 'twelve' is not a byte count"),
    "a length past the body": (lambda body, n: (body, {"Inference-Header-Content-Length": str(len(body) + 1)}),
                               "is larger than the body"),
    "a length cutting the JSON": (lambda body, n: (body, {"Inference-Header-Content-Length": str(n - 3)}),
                                  "request body is not valid JSON"),
    "binary data without the header": (lambda body, n: (body, {}), "request body is not valid JSON"),
    "bytes left over": (lambda body, n: (body + b"\0\0\0\0", {"Inference-Header-Content-Length": str(n)}),
                        "4 bytes after the binary inputs' data"),
    "data shorter than its size": (lambda body, n: (body[:-4], {"Inference-Header-Content-Length": str(n)}),
                                   "runs past the end of the body"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_binary_requests_are_a_400_naming_what_is_wrong(standalone, models, case):
    body, length = _binary_body(models.X[:1])
    content, headers = MALFORMED[case][0](body, length)
    answer = standalone.post("/v2/models/cancer/infer", content=content, headers=headers)
    assert answer.status_code == 400
    assert MALFORMED[case][1] in answer.json()["error"]


def test_a_binary_size_that_does_not_match_the_shape_is_a_400(standalone, models):
    body, length = _binary_body(models.X[:2], size=30 * 4)  # one row of bytes for a [2, 30] tensor
    answer = standalone.post("/v2/models/cancer/infer", content=body[: length] + body[length:length + 120],
                             headers={"Inference-Header-Content-Length": str(length)})
    assert answer.status_code == 400
    assert "120 bytes of binary data, but 60 FP32 elements need 240" in answer.json()["error"]


def test_a_bytes_element_longer_than_its_data_is_a_400(standalone):
    raw = struct.pack("<I", 50) + b"short"
    header = httpx.Request("POST", "/", json={"inputs": [
        {"name": f"in_{t}", "shape": [1, 1], "datatype": t, "data": [[False] if t == "BOOL" else [1]]}
        for t in DATATYPES if t != "BYTES"] + [
        {"name": "in_BYTES", "shape": [1, 1], "datatype": "BYTES", "parameters": {"binary_data_size": len(raw)}}
    ]}).content
    answer = standalone.post("/v2/models/identity/infer", content=header + raw,
                             headers={"Inference-Header-Content-Length": str(len(header))})
    assert answer.status_code == 400
    assert "input 'in_BYTES': BYTES element 0 declares 50 bytes but only 5 remain" in answer.json()["error"]


def _stub(serving) -> pb_grpc.GRPCInferenceServiceStub:
    return pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(f"127.0.0.1:{serving.grpc.port}"))


def test_grpc_errors_carry_status_codes_and_the_rest_messages(standalone, models):
    stub = _stub(standalone.app.state.serving)
    request = pb.ModelInferRequest(model_name="nope")
    with pytest.raises(grpc.RpcError) as missing:
        stub.ModelInfer(request)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "model 'nope' is not deployed" in missing.value.details()

    bad = pb.ModelInferRequest(model_name="cancer", raw_input_contents=[b"\0" * 8])
    bad.inputs.add(name="input", datatype="FP32", shape=[1, 30])
    with pytest.raises(grpc.RpcError) as invalid:
        stub.ModelInfer(bad)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input 'input': 8 bytes of binary data, but 30 FP32 elements need 120" in invalid.value.details()


def test_grpc_typed_contents_are_answered_in_typed_contents(standalone, models):
    stub = _stub(standalone.app.state.serving)
    request = pb.ModelInferRequest(model_name="cancer", id="typed-1")
    request.inputs.add(name="input", datatype="FP64", shape=[2, 30]).contents.fp64_contents.extend(
        models.X[:2].astype(np.float64).ravel().tolist())

    response = stub.ModelInfer(request)

    assert response.id == "typed-1" and not response.raw_output_contents
    label = next(o for o in response.outputs if o.name == "label")
    assert list(label.contents.int64_contents) == models.v1.predict(models.X[:2]).tolist()


def test_grpc_repository_rpcs_load_and_unload(standalone):
    stub = _stub(standalone.app.state.serving)
    assert stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="cancer")).isUnloaded
    assert not stub.ModelReady(pb.ModelReadyRequest(name="cancer")).ready
    assert stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="cancer")).isLoaded
    assert stub.ModelReady(pb.ModelReadyRequest(name="cancer", version="2")).ready
    assert stub.ServerMetadata(pb.ServerMetadataRequest()).extensions == [
        "model_repository", "binary_tensor_data", "classification"]


def test_a_large_binary_answer_leaves_whole_through_the_real_server(http_client):
    """20 MB each way through uvicorn and serving's coalescing writes (http_protocol.py) with flow control."""
    big = np.arange(5 * 1024 * 1024, dtype=np.float32).reshape(1, -1)
    arrays = {f"in_{t}": (t, _sample(t, (1, 1))) for t in DATATYPES if t != "FP32"}
    arrays["in_FP32"] = ("FP32", big)

    result = _triton_http(http_client, "identity", arrays)

    assert np.array_equal(result.as_numpy("out_FP32"), big)
