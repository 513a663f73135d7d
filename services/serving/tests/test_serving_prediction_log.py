"""Prediction logging: batched PredictionsLogged, flushed on timer and at shutdown, dropped and counted when full."""

import time

import numpy as np

from conveyor.events.v1 import events_pb2 as ev
from conveyor.events.v1.predictions import prediction_rows
from conveyor_kernel import Envelope
from conveyor_kernel.callers import signed
from conveyor_kernel.memory import InMemoryBus


def _logged(bus: InMemoryBus) -> list[ev.PredictionsLogged]:
    return bus.events(ev.PredictionsLogged)


def _wait_for_logged(bus: InMemoryBus, count: int) -> None:
    deadline = time.monotonic() + 10
    while sum(len(prediction_rows(e)) for e in _logged(bus)) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_predictions_are_published_in_batches_and_the_rest_on_shutdown(make_serving, models):
    with make_serving(log_batch_size=5, log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        for i in range(11):
            assert harness.infer(models.X[i : i + 1], request_id=f"r{i}").status_code == 200
        harness.infer(models.X[11:23], request_id="many")  # 12 rows in one request
        _wait_for_logged(harness.bus, 20)
        assert all(len(prediction_rows(e)) <= 5 for e in _logged(harness.bus))
        assert sum(len(prediction_rows(e)) for e in _logged(harness.bus)) >= 20
    bus = harness.bus

    events = _logged(bus)
    predictions = [p for e in events for p in prediction_rows(e)]
    assert len(predictions) == 23
    assert all(len(prediction_rows(e)) <= 5 for e in events)
    assert [p.request_id for p in predictions] == [f"r{i}" for i in range(11)] + ["many"] * 12
    # the 12-row request was serialized in pieces that each fit a batch; its rows keep their numbers
    assert [p.row for p in predictions[11:]] == list(range(12))
    first = events[0]
    assert (first.model_name, first.version) == ("cancer", 1)
    assert list(first.class_labels) == ["0", "1"]
    assert len(first.feature_names) == 30
    np.testing.assert_allclose([list(p.features) for p in predictions], models.X[:23], rtol=1e-6)
    assert [int(p.label) for p in predictions] == models.v1.predict(models.X[:23]).tolist()
    np.testing.assert_allclose([list(p.probabilities) for p in predictions], models.v1.predict_proba(models.X[:23]),
                               atol=1e-5)
    assert all(p.timestamp_ms > 0 for p in predictions)


def test_the_timer_flushes_a_partial_batch(make_serving, models):
    with make_serving(log_batch_size=500, log_flush_interval=0.05) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        for i in range(3):
            harness.infer(models.X[i : i + 1])
        _wait_for_logged(harness.bus, 3)
        assert sum(len(prediction_rows(e)) for e in _logged(harness.bus)) == 3


def test_versions_are_logged_in_separate_events(make_serving, models):
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        harness.promote("cancer", 2, models.v2_uri)
        harness.infer(models.X[:2])
        harness.infer(models.X[:3], path="/v2/models/cancer/versions/1/infer")
    assert sorted((e.version, len(prediction_rows(e))) for e in _logged(harness.bus)) == [(1, 3), (2, 2)]


def test_a_full_buffer_drops_and_counts_without_failing_requests(make_serving, models):
    with make_serving(log_buffer_size=3, log_batch_size=100, log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        statuses = [harness.infer(models.X[i : i + 1], request_id=f"r{i}").status_code for i in range(5)]
        assert statuses == [200] * 5
        assert harness.metric("conveyor_serving_prediction_log_dropped_total", reason="buffer_full") == 2
        assert harness.metric("conveyor_serving_prediction_log_depth") == 3
        metrics_text = harness.client.get("/metrics").text
        assert 'conveyor_serving_prediction_log_dropped_total{reason="buffer_full"} 2.0' in metrics_text
    assert [p.request_id for e in _logged(harness.bus) for p in prediction_rows(e)] == ["r0", "r1", "r2"]


class RefusingBus(InMemoryBus):
    async def publish(self, event, subject, **stamps):
        if isinstance(event, ev.PredictionsLogged):
            raise ConnectionError("broker unreachable")
        return await super().publish(event, subject, **stamps)


def test_a_refused_publish_is_counted_and_logging_carries_on(models):
    from fastapi.testclient import TestClient

    from conveyor_serving.settings import ServingSettings
    from conveyor_serving.wiring import create_app

    settings = ServingSettings(data_dir=models.data_dir, log_flush_interval=0.05, grpc_port=0)
    app = create_app(settings, transport=RefusingBus(source="serving"))
    with signed(TestClient(app)) as client:
        serving = app.state.serving
        client.portal.call(app.state.handlers[ev.ModelPromoted],
                           ev.ModelPromoted(model_name="cancer", version=1, artifact_uri=models.v1_uri),
                           Envelope(type="conveyor.events.v1.ModelPromoted", source="test", subject="cancer"))
        for i in range(2):
            rows = models.X[i : i + 1]
            client.post("/v2/models/cancer/infer", json={
                "inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": rows.tolist()}]})
        registry = serving.ports.metrics.registry
        deadline = time.monotonic() + 10
        def dropped() -> float:
            return registry.get_sample_value("conveyor_serving_prediction_log_dropped_total",
                                             {"reason": "publish_failed"}) or 0.0

        while time.monotonic() < deadline and dropped() < 2:
            time.sleep(0.01)
        assert dropped() == 2
        assert serving.log._task is not None and not serving.log._task.done()  # the flusher survived


def _body(rows: np.ndarray, **parameters) -> dict:
    return {"id": "req", "parameters": parameters,
            "inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32", "data": rows.tolist()}]}


def test_attributes_sent_as_parameters_are_logged_per_row_and_never_fed_to_the_model(make_serving, models):
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        response = harness.client.post(
            "/v2/models/cancer/infer", json=_body(models.X[:3], attributes={"clinic": ["north", "south", "north"]})
        )
        assert response.status_code == 200
    [event] = _logged(harness.bus)
    assert [dict(p.attributes) for p in prediction_rows(event)] == [
        {"clinic": "north"}, {"clinic": "south"}, {"clinic": "north"}
    ]
    assert [(p.request_id, p.row) for p in prediction_rows(event)] == [("req", 0), ("req", 1), ("req", 2)]


def test_malformed_attributes_are_a_400_naming_the_attribute(make_serving, models):
    with make_serving(log_flush_interval=3600) as harness:
        harness.promote("cancer", 1, models.v1_uri)
        short = harness.client.post("/v2/models/cancer/infer", json=_body(models.X[:3], attributes={"clinic": ["a"]}))
        assert short.status_code == 400
        assert "parameters.attributes.clinic must be a list of 3 values" in short.json()["error"]
        nested = harness.client.post("/v2/models/cancer/infer",
                                     json=_body(models.X[:1], attributes={"clinic": [{"x": 1}]}))
        assert nested.status_code == 400
        assert "strings, integers or booleans" in nested.json()["error"]
    assert _logged(harness.bus) == []
