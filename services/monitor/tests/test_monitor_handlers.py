import pytest
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Dispatcher, Envelope, EventRuntime, FileStore, InvalidMessage, topics
from conveyor_kernel.memory import InMemoryBus
from conveyor_monitor.handlers import handler_table
from conveyor_monitor.history import EvaluationHistory
from conveyor_monitor.metrics import MonitorMetrics
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import PUBLISHES, build_monitor

WINDOW = 200
ENVELOPE = Envelope("conveyor.events.v1.ModelPromoted", "test", "churn")


def publisher(settings, bus):
    """The monitor's own publisher (it refuses undeclared event types) on the in-memory bus."""
    return EventRuntime(settings, source="monitor", publishes=PUBLISHES, transport=bus).publisher


def batch_envelope() -> Envelope:
    return Envelope("conveyor.events.v1.PredictionsLogged", "serving", "churn")  # a fresh id, as on the wire


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "artifacts")


@pytest.fixture
def bus():
    return InMemoryBus(source="serving")


@pytest.fixture
def monitor(bus, store, tmp_path):
    settings = MonitorSettings(data_dir=tmp_path, window_size=WINDOW, retrain_cooldown_seconds=300)
    built = build_monitor(settings, publisher(settings, bus), {}, EvaluationHistory(100),
                          MonitorMetrics.create(CollectorRegistry()))
    built.store = store
    return built


def promoted(store, samples, version: int) -> ev.ModelPromoted:
    _, uri = store.put_json("references", samples.reference())
    return ev.ModelPromoted(model_name="churn", version=version, reference_uri=uri, dataset_id="d1")


async def feed(monitor, samples, version: int, windows: int, shifted: bool) -> None:
    for _ in range(windows * 4):
        await monitor.on_predictions(samples.batch("churn", version, WINDOW // 4, shifted), batch_envelope())


async def test_undrifted_windows_publish_nothing(monitor, bus, store, samples):
    await monitor.on_promoted(promoted(store, samples, 1), ENVELOPE)
    await feed(monitor, samples, 1, windows=2, shifted=False)
    report = monitor.history.report("churn")
    assert [e["dataset_drifted"] for e in report["evaluations"]] == [False, False]
    assert bus.records == []


async def test_one_shift_gives_one_alarm_and_a_new_champion_may_alarm_again(monitor, bus, store, samples):
    await monitor.on_promoted(promoted(store, samples, 1), ENVELOPE)
    await feed(monitor, samples, 1, windows=3, shifted=True)
    [drift] = bus.events(ev.DriftDetected)
    [deferred] = bus.events(ev.RetrainDeferred)  # no labelled rows yet: nothing new to learn from
    assert drift.model_name == "churn" and drift.version == 1 and drift.window_size == WINDOW
    assert {f.feature for f in drift.features if f.drifted} == {"x", "y", "color"}
    assert drift.drift_share == 1.0 and drift.share_threshold == 0.5
    assert {f.method for f in drift.features} == {"ks", "chisquare"}  # 1,000 reference rows: Evidently's tests
    assert drift.prediction_drift.method == "z" and drift.prediction_drift.drifted
    assert deferred.version == 1 and deferred.trigger == "drift" and "share 1.00" in deferred.reason
    assert deferred.reason.startswith("drift detected; waiting for labelled data: 0 of 200 labels")
    assert (deferred.labelled_rows, deferred.needed_rows) == (0, 200)
    assert bus.events(ev.FeedbackCollected) == [] and bus.events(ev.RetrainRequested) == []
    evaluations = monitor.history.report("churn")["evaluations"]
    # newest first: the first drifted window waits for confirmation, the second alarms, the third cools down
    assert [e["published"] for e in evaluations] == [False, True, False]
    assert [e["alarm"] for e in evaluations] == [True, True, False]
    assert [e["drift_run"] for e in evaluations] == [3, 2, 1]
    assert all(e["dataset_drifted"] for e in evaluations)
    points = monitor.history.series("churn", "drift")
    assert [(p["dataset_drifted"], p["alarm"], p["published"]) for p in points] == [
        (True, False, False), (True, True, True), (True, True, False)]

    await monitor.on_promoted(promoted(store, samples, 1), ENVELOPE)  # redelivered: cooldown holds
    await feed(monitor, samples, 1, windows=1, shifted=True)
    assert len(bus.events(ev.DriftDetected)) == 1

    await monitor.on_promoted(promoted(store, samples, 2), ENVELOPE)
    await feed(monitor, samples, 2, windows=1, shifted=True)
    assert len(bus.events(ev.DriftDetected)) == 1  # a new champion starts its own run
    await feed(monitor, samples, 2, windows=1, shifted=True)
    assert [d.version for d in bus.events(ev.DriftDetected)] == [1, 2]
    # The retrain policy is per model, not per version: a retrained version that still drifts does not
    # start a storm of retrains inside the cooldown.
    assert [r.version for r in bus.events(ev.RetrainDeferred)] == [1]
    assert monitor.history.report("churn")["evaluations"][0]["retrain"].startswith("declined: cooldown")


async def test_predictions_of_other_versions_and_models_are_ignored(monitor, bus, store, samples):
    await monitor.on_promoted(promoted(store, samples, 2), ENVELOPE)
    await feed(monitor, samples, 1, windows=1, shifted=True)
    await monitor.on_predictions(samples.batch("other", 2, WINDOW, shifted=True), batch_envelope())
    assert monitor.windows.pending("churn") == 0
    assert monitor.history.report("churn")["evaluations"] == []
    assert monitor.history.report("other") is None


async def test_bad_inputs_are_dead_lettered_with_a_reason(monitor, bus, store, samples):
    await monitor.on_promoted(promoted(store, samples, 1), ENVELOPE)
    batch = samples.batch("churn", 1, 3)
    del batch.predictions[1].features[-1]
    with pytest.raises(InvalidMessage, match="'r1' has 2 features"):
        await monitor.on_predictions(batch, batch_envelope())
    outside = ev.ModelPromoted(model_name="churn", version=3, reference_uri="file:///nowhere/ref.json")
    with pytest.raises(InvalidMessage, match="outside this store's root"):
        await monitor.on_promoted(outside, ENVELOPE)
    missing = ev.ModelPromoted(model_name="churn", version=3, reference_uri=store.uri_of("references/gone.json"))
    with pytest.raises(InvalidMessage, match="does not exist"):
        await monitor.on_promoted(missing, ENVELOPE)
    _, uri = store.put_json("references", {"feature_names": ["x"], "columns": {}})
    with pytest.raises(InvalidMessage, match=r"columns\['x'\]"):
        await monitor.on_promoted(ev.ModelPromoted(model_name="churn", version=4, reference_uri=uri), ENVELOPE)
    assert monitor.champions["churn"]["version"] == 1

    # Through the kernel dispatch rule, the same failure becomes a dead-letter record.
    await bus.publish(missing, "churn")
    await bus.drain(Dispatcher(handler_table(monitor), group="monitor"), [topics.REGISTRY])
    [dead] = bus.on(topics.DEAD_LETTER)
    assert b"does not exist" in dict(dead.headers)["dlq_reason"]


async def test_an_isolated_drifted_window_is_recorded_but_raises_no_alarm(monitor, bus, store, samples):
    await monitor.on_promoted(promoted(store, samples, 1), ENVELOPE)
    for shifted in (True, False, True):
        await feed(monitor, samples, 1, windows=1, shifted=shifted)
    evaluations = monitor.history.report("churn")["evaluations"]
    assert [(e["dataset_drifted"], e["drift_run"], e["alarm"]) for e in evaluations] == [
        (True, 1, False), (False, 0, False), (True, 1, False)]
    assert bus.records == []


async def test_the_drift_run_survives_a_restart_with_the_window_state(bus, store, samples, tmp_path):
    settings = MonitorSettings(data_dir=tmp_path, window_size=WINDOW, drift_confirm_windows=2)
    champions: dict = {}
    windows: dict = {}  # what the faust tables' changelogs restore

    def start():
        built = build_monitor(settings, publisher(settings, bus), champions, EvaluationHistory(100),
                              MonitorMetrics.create(CollectorRegistry()), windows)
        built.store = store
        return built

    first = start()
    await first.on_promoted(promoted(store, samples, 1), ENVELOPE)
    await feed(first, samples, 1, windows=1, shifted=True)
    assert bus.events(ev.DriftDetected) == [] and first.windows.drift_run("churn") == 1
    second = start()  # a restart: new objects over the recovered state
    await feed(second, samples, 1, windows=1, shifted=True)
    [drift] = bus.events(ev.DriftDetected)
    assert drift.version == 1
    assert second.history.report("churn")["evaluations"][0]["drift_run"] == 2


def as_columns(batch: ev.PredictionsLogged) -> ev.PredictionsLogged:
    """The same batch in the columnar form serving writes."""
    rows = batch.predictions
    columns = ev.PredictionColumns(
        rows=len(rows), features=[v for p in rows for v in p.features], request_ids=[p.request_id for p in rows],
        request_rows=[p.row for p in rows], timestamps_ms=[p.timestamp_ms for p in rows],
        labels=[p.label for p in rows], probabilities=[v for p in rows for v in p.probabilities],
        attributes={"clinic": ev.AttributeColumn(values=[p.attributes["clinic"] for p in rows])},
    )
    return ev.PredictionsLogged(model_name=batch.model_name, version=batch.version, feature_names=batch.feature_names,
                                class_labels=batch.class_labels, columns=columns)


async def test_columnar_batches_are_judged_and_joined_like_row_batches(bus, store, samples, tmp_path):
    batches = [samples.batch("churn", 1, WINDOW // 4, shifted=i >= 4, request=f"q{i}") for i in range(8)]
    outcomes = []
    for form, convert in (("rows", lambda b: b), ("columns", as_columns)):
        settings = MonitorSettings(data_dir=tmp_path / form, window_size=WINDOW, retrain_cooldown_seconds=300)
        monitor = build_monitor(settings, publisher(settings, InMemoryBus(source="serving")), {},
                                EvaluationHistory(100), MonitorMetrics.create(CollectorRegistry()))
        monitor.store = store
        await monitor.on_promoted(promoted(store, samples, 1), ENVELOPE)
        for batch in batches:
            await monitor.on_predictions(convert(batch), batch_envelope())
        joined = await monitor.on_labels([(p.request_id, p.row, p.label) for p in batches[0].predictions])
        report = monitor.history.report("churn")["evaluations"]
        outcomes.append(([(e["dataset_drifted"], e["drift_share"]) for e in report], joined["joined"]))
    assert outcomes[0] == outcomes[1]
    assert [drifted for drifted, _ in outcomes[0][0]] == [True, False] and outcomes[0][1] == WINDOW // 4  # newest first


async def test_columns_that_disagree_are_dead_lettered(monitor, store, samples):
    await monitor.on_promoted(promoted(store, samples, 1), ENVELOPE)
    batch = as_columns(samples.batch("churn", 1, 3))
    batch.columns.request_ids.pop()
    with pytest.raises(InvalidMessage, match="request_ids has 2 entries for 3 rows"):
        await monitor.on_predictions(batch, batch_envelope())
