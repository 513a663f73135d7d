"""Protocol completeness: datatypes, KServe V1, body size limit, API keys, the model repository extension."""

import numpy as np
import pytest

from conveyor.events.v1 import events_pb2 as ev


def _v2(rows, datatype="FP32", **extra) -> dict:
    return {"inputs": [{"name": "input", "shape": list(np.shape(rows)), "datatype": datatype,
                        "data": np.asarray(rows).tolist()}], **extra}


@pytest.mark.parametrize("datatype, cast", [("FP64", float), ("INT64", int), ("INT32", int), ("BOOL", bool)])
def test_every_numeric_datatype_is_accepted(serving, models, datatype, cast):
    serving.promote("cancer", 1, models.v1_uri)
    rows = (models.X[:2] > 0) if datatype == "BOOL" else np.round(models.X[:2])
    body = _v2([[cast(v) for v in row] for row in rows.tolist()], datatype)

    answer = serving.client.post("/v2/models/cancer/infer", json=body)

    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == models.v1.predict(rows.astype(np.float32)).tolist()


def test_bool_datatype_with_numbers_is_a_400(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    answer = serving.client.post("/v2/models/cancer/infer", json=_v2(models.X[:1], "BOOL"))
    assert answer.status_code == 400
    assert "input 'input': datatype BOOL but data holds non-booleans" in answer.json()["error"]


def test_parameters_and_empty_outputs_list_are_accepted(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    answer = serving.client.post("/v2/models/cancer/infer",
                                 json=_v2(models.X[:1], parameters={"content_type": "np"}, outputs=[], id="x-9"))
    assert answer.status_code == 200
    assert answer.json()["id"] == "x-9"
    assert [o["name"] for o in answer.json()["outputs"]] == ["label", "probabilities"]


def test_v1_predict_returns_one_label_and_the_probabilities_per_instance(serving, models):
    serving.promote("cancer", 1, models.v1_uri)
    rows = models.X[:7]

    answer = serving.client.post("/v1/models/cancer:predict", json={"instances": rows.tolist()})

    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == models.v1.predict(rows).tolist()
    np.testing.assert_allclose(answer.json()["probabilities"], models.v1.predict_proba(rows), atol=1e-5)
    assert serving.client.get("/v1/models/cancer").json() == {"name": "cancer", "ready": True}
    assert serving.client.get("/v1/models").json() == {"models": ["cancer"]}


def test_v1_predict_on_a_regression_model_returns_values(serving, models):
    serving.promote("diabetes", 1, models.regression_uri, feature_names=[f"f{i}" for i in range(10)],
                    task=ev.TASK_REGRESSION)
    rows = models.X_reg[:3]
    answer = serving.client.post("/v1/models/diabetes:predict", json={"instances": rows.tolist()})
    np.testing.assert_allclose(answer.json()["predictions"], models.regression.predict(rows), rtol=1e-4)


@pytest.mark.parametrize("body, expected", [
    ({"rows": [[1.0] * 30]}, 'must be {"instances"'),
    ({"instances": [[1.0] * 29]}, "each row needs 30 numbers"),
    ({"instances": [[1.0] * 30, [1.0] * 29]}, "rows have different lengths"),
    ({"instances": [[1e39] * 30]}, "not finite"),
    ({"instances": [["a"] * 30]}, "only numbers"),
    ({"instances": [[1.0] * 30] * 51}, "51 rows is more than the limit of 50"),
])
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_v1_bad_bodies_are_a_400_naming_what_is_wrong(serving, models, body, expected):
    serving.promote("cancer", 1, models.v1_uri)
    answer = serving.client.post("/v1/models/cancer:predict", json=body)
    assert answer.status_code == 400
    assert expected in answer.json()["error"]


def test_v1_unknown_model_is_a_404(serving):
    assert serving.client.post("/v1/models/nope:predict", json={"instances": [[1.0]]}).status_code == 404


def test_a_body_over_the_limit_is_a_413_before_parsing(make_serving, models):
    with make_serving(max_body_bytes=2_000) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        assert harness.infer(models.X[:1]).status_code == 200
        too_big = harness.infer(models.X[:20])
        assert too_big.status_code == 413
        assert "over the limit of 2000" in too_big.json()["error"]

        def chunks():  # no content-length: the limit applies while streaming
            for _ in range(10):
                yield b" " * 500

        chunked = harness.client.post("/v2/models/cancer/infer", content=chunks())
        assert chunked.status_code == 413
        assert harness.metric("conveyor_serving_request_errors_total", model="cancer", status="413") == 2


def test_api_keys_guard_inference_but_not_health_or_metadata(make_serving, models):
    with make_serving(api_keys=["k-one", "k-two"]) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        client, body = harness.client, _v2(models.X[:1])
        missing = client.post("/v2/models/cancer/infer", json=body)
        assert missing.status_code == 401 and "needs an API key" in missing.json()["error"]
        wrong = client.post("/v2/models/cancer/infer", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]
        assert client.post("/v2/models/cancer/infer", json=body,
                           headers={"Authorization": "Bearer k-two"}).status_code == 200
        assert client.post("/v1/models/cancer:predict", json={"instances": models.X[:1].tolist()},
                           headers={"X-API-Key": "k-one"}).status_code == 200
        assert client.post("/v1/models/cancer:predict", json={"instances": models.X[:1].tolist()}).status_code == 401
        # unload is the kill switch: a role decides it (a bearer token), an inference key does not
        refused = client.post("/v2/repository/models/cancer/unload", headers={"Authorization": "Bearer k-one"})
        assert refused.status_code == 401 and "not a JWT" in refused.json()["error"]
        assert client.get("/v2/models/cancer").status_code == 200
        assert client.get("/v2/health/ready").status_code == 200


def test_standalone_serves_the_folder_with_the_highest_version_as_champion(standalone, models):
    rows = models.X[:4]
    answer = standalone.post("/v2/models/cancer/infer", json=_v2(rows)).json()
    assert answer["model_version"] == "2"
    assert answer["outputs"][0]["data"] == models.v2.predict(rows).tolist()
    pinned = standalone.post("/v2/models/cancer/versions/1/infer", json=_v2(rows)).json()
    assert pinned["outputs"][0]["data"] == models.v1.predict(rows).tolist()
    metadata = standalone.get("/v2/models/cancer").json()
    assert metadata["versions"] == ["1", "2"]
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 30]}]
    assert standalone.get("/v2/health/ready").json() == {"ready": True}


def test_standalone_serves_a_model_with_its_own_output_names(standalone, models):
    rows = models.X[:3]
    answer = standalone.post("/v2/models/plain/infer", json=_v2(rows)).json()
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["output_label"]["datatype"] == "INT64"
    assert outputs["output_label"]["data"] == models.v2.predict(rows).tolist()
    assert outputs["output_probability"]["shape"] == [3, 2]
    assert standalone.post("/v1/models/plain:predict",
                           json={"instances": rows.tolist()}).json()["predictions"] == models.v2.predict(rows).tolist()


def test_repository_index_unload_and_load(standalone, models):
    index = standalone.post("/v2/repository/index").json()
    assert [(r["name"], r["version"], r["state"]) for r in index] == [
        ("cancer", "1", "READY"), ("cancer", "2", "READY"), ("identity", "1", "READY"), ("plain", "3", "READY"),
        ("table", "1", "READY")]

    assert standalone.post("/v2/repository/models/cancer/unload").json() == {"name": "cancer", "unloaded": True}
    assert standalone.post("/v2/models/cancer/infer", json=_v2(models.X[:1])).status_code == 404
    assert standalone.post("/v2/repository/index", json={"ready": False}).json() == [
        {"name": "cancer", "version": "1", "state": "UNAVAILABLE", "reason": "unloaded"},
        {"name": "cancer", "version": "2", "state": "UNAVAILABLE", "reason": "unloaded"}]
    assert standalone.post("/v2/repository/models/cancer/unload").status_code == 404

    loaded = standalone.post("/v2/repository/models/cancer/load")
    assert loaded.json() == {"name": "cancer", "loaded": True, "version": "2"}
    assert standalone.post("/v2/models/cancer/infer", json=_v2(models.X[:1])).status_code == 200
    missing = standalone.post("/v2/repository/models/ghost/load")
    assert missing.status_code == 404 and "no ghost/<version>/model.onnx" in missing.json()["error"]


def test_a_broken_model_in_the_folder_is_refused_on_load(standalone, model_folder):
    (model_folder / "broken" / "1").mkdir(parents=True)
    (model_folder / "broken" / "1" / "model.onnx").write_bytes(b"not onnx")
    answer = standalone.post("/v2/repository/models/broken/load")
    assert answer.status_code == 400
    assert "broken/1/model.onnx" in answer.json()["error"] and "not a loadable ONNX model" in answer.json()["error"]
