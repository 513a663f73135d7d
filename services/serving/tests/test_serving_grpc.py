"""gRPC does what REST does: prediction logging, canary and shadow, metrics, API keys; and large messages."""

import grpc
import numpy as np
import orjson
import pytest

from conveyor.events.v1 import events_pb2 as ev
from conveyor.events.v1.predictions import prediction_rows
from conveyor_serving.oip import grpc_predict_v2_pb2 as pb
from conveyor_serving.oip import grpc_predict_v2_pb2_grpc as pb_grpc

MB = 1024 * 1024


def _stub(harness) -> pb_grpc.GRPCInferenceServiceStub:
    options = [("grpc.max_send_message_length", 128 * MB), ("grpc.max_receive_message_length", 128 * MB)]
    channel = grpc.insecure_channel(f"127.0.0.1:{harness.serving.grpc.port}", options=options)
    return pb_grpc.GRPCInferenceServiceStub(channel)


def _request(rows: np.ndarray, model: str = "cancer", **fields) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model, raw_input_contents=[rows.astype("<f4").tobytes()], **fields)
    request.inputs.add(name="input", datatype="FP32", shape=list(rows.shape))
    return request


def _outputs(response: pb.ModelInferResponse) -> dict[str, np.ndarray]:
    dtypes = {"INT64": "<i8", "FP32": "<f4"}
    return {o.name: np.frombuffer(raw, dtype=dtypes[o.datatype]).reshape(list(o.shape))
            for o, raw in zip(response.outputs, response.raw_output_contents, strict=True)}


def test_grpc_predictions_are_logged_with_the_request_id_and_attributes(make_serving, models):
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        request = _request(models.X[:3], id="g-1")
        request.parameters["attributes"].string_param = '{"clinic": ["north", "south", "north"]}'
        response = _stub(harness).ModelInfer(request)
        assert _outputs(response)["label"].tolist() == models.v1.predict(models.X[:3]).tolist()
        assert harness.metric("conveyor_serving_request_seconds_count", model="cancer", version="1") == 1
    (event,) = harness.bus.events(ev.PredictionsLogged)
    rows = prediction_rows(event)
    assert [(p.request_id, p.row, dict(p.attributes)) for p in rows] == [
        ("g-1", 0, {"clinic": "north"}), ("g-1", 1, {"clinic": "south"}), ("g-1", 2, {"clinic": "north"})]
    np.testing.assert_allclose([list(p.features) for p in rows], models.X[:3], rtol=1e-6)


def test_grpc_follows_canary_and_shadow_splits(make_serving, models):
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        harness.split("cancer", "canary", 2, models.v2_uri, weight=1.0)
        assert _stub(harness).ModelInfer(_request(models.X[:1])).model_version == "2"
        harness.split("cancer", "shadow", 2, models.v2_uri)
        answer = _stub(harness).ModelInfer(_request(models.X[:2], id="s-1"))
        assert answer.model_version == "1"
        np.testing.assert_allclose(_outputs(answer)["probabilities"], models.v1.predict_proba(models.X[:2]), atol=1e-5)
    logged = {(e.version, p.request_id) for e in harness.bus.events(ev.PredictionsLogged) for p in prediction_rows(e)}
    assert {(1, "s-1"), (2, "s-1")} <= logged  # the champion answered, the shadow candidate ran on the same rows


def test_grpc_needs_the_api_key_when_keys_are_set(make_serving, models):
    with make_serving(api_keys=["k-one"]) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        stub = _stub(harness)
        with pytest.raises(grpc.RpcError) as missing:
            stub.ModelInfer(_request(models.X[:1]))
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "needs an API key" in missing.value.details()
        assert stub.ModelInfer(_request(models.X[:1]), metadata=[("authorization", "Bearer k-one")]).outputs
        assert stub.ModelInfer(_request(models.X[:1]), metadata=[("x-api-key", "k-one")]).outputs
        with pytest.raises(grpc.RpcError) as unload:
            stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="cancer"))
        assert unload.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert harness.metric("conveyor_serving_request_errors_total", model="cancer", status="UNAUTHENTICATED") == 1


def test_a_50_mb_tensor_passes_on_grpc_and_binary_rest(standalone):
    """The default message limit is 64 MB on both: a 50 MB FP32 tensor goes in and comes back."""
    serving = standalone.app.state.serving
    values = np.arange(50 * MB // 4, dtype="<f4").reshape(1, -1)
    others = {t: (np.zeros((1, 1), dtype=d) if t != "BYTES" else np.array([[b"x"]], dtype=object))
              for t, d in {"BOOL": bool, "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
                           "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "FP16": "<f2",
                           "FP64": "<f8", "BYTES": None}.items()}
    request = pb.ModelInferRequest(model_name="identity")
    request.inputs.add(name="in_FP32", datatype="FP32", shape=[1, values.shape[1]])
    request.raw_input_contents.append(values.tobytes())
    for datatype, array in others.items():
        request.inputs.add(name=f"in_{datatype}", datatype=datatype, shape=[1, 1])
        request.raw_input_contents.append(b"\1\0\0\0x" if datatype == "BYTES" else array.tobytes())
    assert request.ByteSize() > 50 * MB

    response = pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(
        f"127.0.0.1:{serving.grpc.port}", options=[("grpc.max_send_message_length", 128 * MB),
                                                 ("grpc.max_receive_message_length", 128 * MB)])).ModelInfer(request)
    echoed = dict(zip([o.name for o in response.outputs], response.raw_output_contents, strict=True))
    assert echoed["out_FP32"] == values.tobytes()

    inputs = [{"name": i.name, "datatype": i.datatype, "shape": list(i.shape),
               "parameters": {"binary_data_size": len(raw)}} for i, raw in zip(request.inputs,
                                                                             request.raw_input_contents, strict=True)]
    header = orjson.dumps({"inputs": inputs, "outputs": [{"name": "out_FP32", "parameters": {"binary_data": True}}]})
    answer = standalone.post("/v2/models/identity/infer", content=header + b"".join(request.raw_input_contents),
                             headers={"Inference-Header-Content-Length": str(len(header))})
    assert answer.status_code == 200, answer.text[:300]
    length = int(answer.headers["inference-header-content-length"])
    assert answer.content[length:] == values.tobytes()


def test_messages_over_the_limit_are_refused_on_both(make_serving, models):
    with make_serving(max_body_bytes=1 * MB) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        rows = np.zeros((9_000, 30), dtype=np.float32)  # 1.08 MB of raw floats
        with pytest.raises(grpc.RpcError) as refused:
            _stub(harness).ModelInfer(_request(rows))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert harness.infer(rows[:1]).status_code == 200
        assert harness.client.post("/v2/models/cancer/infer", content=b" " * (MB + 1)).status_code == 413
