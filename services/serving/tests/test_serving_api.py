"""Promotion → loaded champion → Open Inference Protocol v2 answers, against real ONNX Runtime sessions."""

import numpy as np
import pytest

from conveyor.events.v1 import events_pb2 as ev


def test_promotion_loads_the_model_and_publishes_model_deployed(serving, models):
    assert serving.client.get("/v2/models/cancer/ready").status_code == 404

    serving.promote("cancer", 1, models.v1_uri)

    (deployed,) = serving.bus.events(ev.ModelDeployed)
    assert (deployed.model_name, deployed.version, deployed.artifact_uri) == ("cancer", 1, models.v1_uri)
    assert deployed.instance == "test-instance"
    assert deployed.load_seconds > 0
    assert serving.client.get("/v2/models/cancer/ready").json() == {"name": "cancer", "version": "1", "ready": True}
    assert serving.metric("conveyor_serving_model_swaps_total", model="cancer") == 1


def test_infer_matches_scikit_learn(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    rows = models.X[:40]

    response = serving.infer(rows, request_id="req-1")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("cancer", "1", "req-1")
    label, probabilities = body["outputs"]
    assert (label["name"], label["datatype"], label["shape"]) == ("label", "INT64", [40])
    assert label["data"] == models.v1.predict(rows).tolist()
    assert (probabilities["name"], probabilities["datatype"], probabilities["shape"]) == ("probabilities", "FP32",
                                                                                          [40, 2])
    np.testing.assert_allclose(probabilities["data"], models.v1.predict_proba(rows).ravel(), atol=1e-5)


def test_flat_data_and_output_selection(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    rows = models.X[:3]
    body = {"inputs": [{"name": "input", "shape": [3, 30], "datatype": "FP64", "data": rows.ravel().tolist()}],
            "outputs": [{"name": "label"}]}

    answer = serving.client.post("/v2/models/cancer/infer", json=body).json()

    assert [o["name"] for o in answer["outputs"]] == ["label"]
    assert answer["outputs"][0]["data"] == models.v1.predict(rows).tolist()
    assert len(answer["id"]) == 32  # generated when the request has none


def test_server_and_model_metadata(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    serving.promote("cancer", 2, models.v2_uri)
    client = serving.client

    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json() == {"name": "conveyor-serving", "version": "0.3.0",
                                        "extensions": ["model_repository", "binary_tensor_data", "classification"]}
    metadata = client.get("/v2/models/cancer").json()
    assert metadata["name"] == "cancer"
    assert metadata["versions"] == ["1", "2"]
    assert metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 30]}]
    assert metadata["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [-1]},
                                   {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]}]
    assert metadata["parameters"]["class_labels"] == ["0", "1"]
    assert client.get("/v2/models/cancer/versions/1").json()["parameters"]["version"] == "1"
    assert client.get("/v2/models/cancer/versions/1/ready").status_code == 200
    assert client.post("/v2/repository/index").json() == [
        {"name": "cancer", "version": "1", "state": "READY"}, {"name": "cancer", "version": "2", "state": "READY"}
    ]


def _tensor(**changes):
    tensor = {"name": "input", "shape": [1, 30], "datatype": "FP32", "data": [0.5] * 30}
    tensor.update(changes)
    return tensor


BAD_REQUESTS = {
    "no inputs": ({"inputs": []}, '"inputs" must be a non-empty list'),
    "wrong input name": ({"inputs": [_tensor(name="features")]}, "missing input 'input'"),
    "data shorter than shape": ({"inputs": [_tensor(shape=[2, 30])]}, "data has 30 values but shape [2, 30] needs 60"),
    "wrong feature count": ({"inputs": [_tensor(shape=[1, 29], data=[0.5] * 29)]}, "expects 30"),
    "ragged rows": ({"inputs": [_tensor(shape=[2, 30], data=[[0.5] * 30, [0.5] * 29])]}, "different lengths"),
    "unsupported datatype": ({"inputs": [_tensor(datatype="BF16")]}, "unsupported datatype 'BF16'"),
    "strings for a float matrix": ({"inputs": [_tensor(datatype="BYTES")]}, "unsupported datatype 'BYTES'"),
    "rank 1 shape": ({"inputs": [_tensor(shape=[30])]}, "shape must be [rows, 30]"),
    "strings in data": ({"inputs": [_tensor(data=["a"] * 30)]}, "only numbers"),
    "floats declared INT64": ({"inputs": [_tensor(datatype="INT64")]}, "holds non-integers"),
    "not finite in float32": ({"inputs": [_tensor(data=[1e39] * 30)]}, "not finite"),
    "too many rows": ({"inputs": [_tensor(shape=[51, 30], data=[0.5] * 30 * 51)]}, "more than the limit of 50"),
    "unknown output": ({"inputs": [_tensor()], "outputs": [{"name": "score"}]}, "unknown output(s) ['score']"),
}


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # the 1e39 case, on purpose
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_400_naming_the_input(serving, models, case):
    serving.promote("cancer", 1, models.v1_uri)
    body, expected = BAD_REQUESTS[case]

    response = serving.client.post("/v2/models/cancer/infer", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert expected in error
    assert "'input'" in error or case == "unknown output"


def test_invalid_json_gets_400(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    response = serving.client.post("/v2/models/cancer/infer", content=b'{"inputs": [',
                                   headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    assert serving.metric("conveyor_serving_request_errors_total", model="cancer", status="400") == 1


@pytest.mark.parametrize("path, expected", [
    ("/v2/models/unknown/infer", "model 'unknown' is not deployed"),
    ("/v2/models/cancer/versions/7/infer", "no loaded version '7' (loaded: 1)"),
    ("/v2/models/cancer/versions/latest/infer", "no loaded version 'latest'"),
])
def test_unknown_models_and_versions_get_404(serving, models, path, expected):
    serving.promote("cancer", 1, models.v1_uri)
    response = serving.infer(models.X[:1], path=path)
    assert response.status_code == 404
    assert expected in response.json()["error"]
    assert serving.client.get(path.removesuffix("/infer")).status_code == 404


def test_versioned_route_serves_that_version(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    serving.promote("cancer", 2, models.v2_uri)
    rows = models.X[:5]

    champion = serving.infer(rows).json()
    pinned = serving.infer(rows, path="/v2/models/cancer/versions/1/infer").json()

    assert champion["model_version"] == "2"
    np.testing.assert_allclose(champion["outputs"][1]["data"], models.v2.predict_proba(rows).ravel(), atol=1e-5)
    assert pinned["model_version"] == "1"
    np.testing.assert_allclose(pinned["outputs"][1]["data"], models.v1.predict_proba(rows).ravel(), atol=1e-5)


def test_rollback_swaps_back_reusing_the_loaded_session(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    serving.promote("cancer", 2, models.v2_uri)
    first_session = serving.serving.ports.repository.loaded("cancer", 1).session

    serving.promote("cancer", 1, models.v1_uri, action="rollback", previous_version=2)

    assert serving.infer(models.X[:1]).json()["model_version"] == "1"
    assert serving.serving.ports.repository.loaded("cancer", 1).session is first_session
    deployed = serving.bus.events(ev.ModelDeployed)
    assert [d.version for d in deployed] == [1, 2, 1]
    assert deployed[-1].load_seconds == 0.0
    assert serving.metric("conveyor_serving_model_swaps_total", model="cancer") == 3


@pytest.mark.parametrize("artifact, fields, reason", [
    ("wrong_outputs_uri", {}, "must output 'label'"),
    ("double_input_uri", {}, "must be a float32 tensor"),
    ("garbage_uri", {}, "not a loadable ONNX model"),
    ("v2_uri", {"feature_names": ["a", "b"]}, "takes 30 features but 2 feature_names"),
    ("v2_uri", {"task": ev.TASK_REGRESSION}, "must output 'variable'"),
])
def test_a_model_breaking_the_contract_is_refused_and_the_champion_keeps_serving(
    serving, models, artifact, fields, reason
):
    serving.promote("cancer", 1, models.v1_uri)

    serving.promote("cancer", 2, getattr(models, artifact), **fields)

    (dead,) = serving.dead_letter_reasons()
    assert "refused 'cancer' v2" in dead and reason in dead
    assert [d.version for d in serving.bus.events(ev.ModelDeployed)] == [1]
    answer = serving.infer(models.X[:2])
    assert answer.status_code == 200 and answer.json()["model_version"] == "1"
    assert serving.client.get("/v2/models/cancer/versions/2").status_code == 404


@pytest.mark.parametrize("fields, reason", [
    ({"version": 0}, "must be >= 1"),
    ({"artifact_uri": ""}, "has no artifact_uri"),
    ({"artifact_uri": "s3://bucket/model.onnx"}, "not in this store"),
])
def test_malformed_promotions_are_dead_lettered(serving, models, fields, reason):
    event = {"version": 1, "artifact_uri": models.v1_uri} | fields
    serving.promote("cancer", event["version"], event["artifact_uri"])
    (dead,) = serving.dead_letter_reasons()
    assert reason in dead
    assert serving.bus.events(ev.ModelDeployed) == []


def test_regression_models_answer_with_variable(serving, models):
    names = [f"r{i}" for i in range(10)]
    serving.promote("diabetes", 1, models.regression_uri, feature_names=names, task=ev.TASK_REGRESSION)
    rows = models.X_reg[:4]

    answer = serving.infer(rows, path="/v2/models/diabetes/infer").json()

    (variable,) = answer["outputs"]
    assert (variable["name"], variable["datatype"], variable["shape"]) == ("variable", "FP32", [4, 1])
    np.testing.assert_allclose(variable["data"], models.regression.predict(rows), rtol=1e-4)
