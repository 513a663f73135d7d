"""Fairness and late-label performance through the Monitor, with an in-memory bus."""

import pytest
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, EventRuntime
from conveyor_kernel.memory import InMemoryBus
from conveyor_monitor.history import EvaluationHistory
from conveyor_monitor.metrics import MonitorMetrics
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import PUBLISHES, build_monitor

WINDOW = 200
ENVELOPE = Envelope("conveyor.events.v1.ModelPromoted", "test", "churn")


def batch_envelope() -> Envelope:
    return Envelope("conveyor.events.v1.PredictionsLogged", "serving", "churn")  # a fresh id, as on the wire


@pytest.fixture
def bus():
    return InMemoryBus(source="serving")


@pytest.fixture
def monitor(bus, tmp_path, samples):
    settings = MonitorSettings(data_dir=tmp_path, window_size=WINDOW, label_window_size=100)
    publisher = EventRuntime(settings, source="monitor", publishes=PUBLISHES, transport=bus).publisher
    return build_monitor(settings, publisher, {}, EvaluationHistory(100), MonitorMetrics.create(CollectorRegistry()))


async def promote(monitor, samples, metrics=None):
    _, uri = monitor.store.put_json("references", samples.reference())
    await monitor.on_registered(ev.ModelRegistered(model_name="churn", version=1, metrics=metrics or {}), ENVELOPE)
    await monitor.on_promoted(ev.ModelPromoted(model_name="churn", version=1, reference_uri=uri, dataset_id="d1"),
                              ENVELOPE)


async def test_an_unfair_window_publishes_fairness_degraded_with_its_evidence(monitor, bus, samples):
    await promote(monitor, samples)
    await monitor.on_predictions(samples.batch("churn", 1, WINDOW), batch_envelope())
    assert bus.events(ev.FairnessDegraded) == []
    await monitor.on_predictions(samples.batch("churn", 1, WINDOW, biased=True), batch_envelope())
    [fact] = bus.events(ev.FairnessDegraded)
    [deferred] = bus.events(ev.RetrainDeferred)
    assert fact.attribute == "clinic" and fact.positive_label == "1" and fact.window_size == WINDOW
    assert fact.selection_rate["south"] < 0.15 < 0.35 < fact.selection_rate["north"]
    assert fact.four_fifths_violated and fact.p_value < 0.01
    assert deferred.trigger == "fairness" and "clinic" in deferred.reason
    assert deferred.reason.startswith("fairness degraded; waiting for labelled data: 0 of 200 labels")
    assert bus.events(ev.DriftDetected) == []  # inputs did not move; only the treatment of a group did
    points = monitor.history.series("churn", "fairness")
    assert [p["degraded"] for p in points] == [False, True]


async def test_late_labels_join_by_request_and_row_and_a_drop_publishes_performance_degraded(monitor, bus, samples):
    await promote(monitor, samples, metrics={"accuracy": 0.97, "roc_auc": 0.99})
    good = samples.batch("churn", 1, 100, request="good")
    bad = samples.batch("churn", 1, 100, request="bad")
    for batch in (good, bad):
        await monitor.on_predictions(batch, batch_envelope())
    truths = [(p.request_id, p.row, p.label) for p in good.predictions]
    summary = await monitor.on_labels(truths[:60] + [("nobody", 0, "1")])
    assert summary["joined"] == 60 and summary["unmatched"] == [{"request_id": "nobody", "row": 0}]
    [scored] = (await monitor.on_labels(truths[60:]))["windows_scored"]
    assert scored["metrics"]["accuracy"] == 1.0 and scored["degraded"] == [] and scored["retrain"] == ""
    assert scored["metrics"]["roc_auc"] == 1.0 and "clinic" in scored["equalized_odds"]
    # Every third label of the second request contradicts the model.
    flipped = [(p.request_id, p.row, str(1 - int(p.label)) if p.row % 3 == 0 else p.label) for p in bad.predictions]
    [scored] = (await monitor.on_labels(flipped))["windows_scored"]
    assert scored["metrics"]["accuracy"] == pytest.approx(0.66) and "accuracy" in scored["degraded"]
    # 200 labelled rows now exist, the default minimum: the retrain learns from them
    assert scored["retrain"].startswith("collected: 200 labelled rows")
    [fact] = bus.events(ev.PerformanceDegraded)
    [feedback] = bus.events(ev.FeedbackCollected)
    assert fact.baseline["accuracy"] == 0.97 and fact.metrics["accuracy"] == pytest.approx(0.66)
    assert feedback.trigger == "performance" and feedback.dataset_id == "d1" and feedback.rows == 200
    assert "accuracy 0.660 vs 0.970" in feedback.reason
    again = await monitor.on_labels([(p.request_id, p.row, p.label) for p in good.predictions])
    assert again["joined"] == 0  # a label joins once: no double counting
    points = monitor.history.series("churn", "performance")
    assert len(points) == 2 and points[0]["degraded"] == [] and "accuracy" in points[1]["degraded"]
