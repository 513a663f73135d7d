"""Production feedback through the Monitor on the in-memory bus: an alarm waits for labelled rows, then the
rows go out as a Parquet table; never twice, never without new rows; cooldown and the hourly cap still hold."""

import io

import numpy as np
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, EventRuntime
from conveyor_kernel.memory import InMemoryBus
from conveyor_monitor.feedback import feedback_table
from conveyor_monitor.history import EvaluationHistory
from conveyor_monitor.labels import Labelled
from conveyor_monitor.metrics import MonitorMetrics
from conveyor_monitor.performance import Logged
from conveyor_monitor.reference import parse_reference
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.wiring import PUBLISHES, build_monitor

WINDOW = 100
NEEDED = 50
PLANS = ["basic", "plus", "pro"]


def reference(rng: np.random.Generator, n: int = 600, target: str | None = "churned") -> dict:
    """The trainer's reference with a string category (with gaps), a boolean, the target and an attribute."""
    document = {
        "feature_names": ["tenure", "plan", "smoker"],
        "kinds": {"tenure": "numeric", "plan": "categorical", "smoker": "boolean"},
        "columns": {
            "tenure": rng.normal(24, 6, n).tolist(),
            "plan": [None if i % 20 == 0 else p for i, p in enumerate(rng.choice(PLANS, n, p=[0.6, 0.3, 0.1]))],
            "smoker": rng.choice([True, False], n).tolist(),
        },
        "predictions": rng.choice(["no", "yes"], n).tolist(), "task": "classification", "class_labels": ["no", "yes"],
        "sensitive_attributes": ["region"],
    }
    if target:
        document["target"] = target
    return document


def columns_batch(rng: np.random.Generator, request: str, n: int, shifted: bool) -> ev.PredictionsLogged:
    """Serving's columnar form: numeric inputs in `features` (NaN where missing), strings in `text_features`."""
    tenure = rng.normal(40 if shifted else 24, 6, n)
    tenure[::25] = np.nan
    plans = rng.choice(PLANS, n, p=[0.1, 0.3, 0.6] if shifted else [0.6, 0.3, 0.1]).tolist()
    plans[::10] = [""] * len(plans[::10])
    smoker = rng.choice([1.0, 0.0], n)
    p_yes = rng.uniform(0, 1, n)
    columns = ev.PredictionColumns(
        rows=n, features=np.column_stack([tenure, smoker]).ravel().tolist(), request_ids=[request] * n,
        request_rows=list(range(n)), timestamps_ms=[1_700_000_000_000 + i for i in range(n)],
        labels=["yes" if p > 0.5 else "no" for p in p_yes],
        probabilities=np.column_stack([1 - p_yes, p_yes]).ravel().tolist(),
        attributes={"region": ev.AttributeColumn(values=["north" if i % 2 else "" for i in range(n)])},
        text_features={"plan": ev.AttributeColumn(values=plans)},
    )
    return ev.PredictionsLogged(model_name="churn", version=1, feature_names=["tenure", "smoker"],
                                class_labels=["no", "yes"], columns=columns)


@pytest.fixture
def bus():
    return InMemoryBus(source="serving")


def make_monitor(bus, tmp_path, **settings):
    config = MonitorSettings(data_dir=tmp_path, window_size=WINDOW, label_window_size=10_000, **settings)
    publisher = EventRuntime(config, source="monitor", publishes=PUBLISHES, transport=bus).publisher
    return build_monitor(config, publisher, {}, EvaluationHistory(100), MonitorMetrics.create(CollectorRegistry()))


async def promote(monitor, document: dict, version: int = 1) -> None:
    _, uri = monitor.store.put_json("references", document)
    await monitor.on_promoted(ev.ModelPromoted(
        model_name="churn", version=version, reference_uri=uri, dataset_id="d1", artifact_uri="file:///m/v1.onnx",
        retrain=ev.RetrainPolicy(min_labels=NEEDED)), Envelope("conveyor.events.v1.ModelPromoted", "registry", "churn"))


async def drifted_windows(monitor, rng, prefix: str, windows: int = 2) -> list[ev.PredictionsLogged]:
    sent = []
    for k in range(windows):
        batch = columns_batch(rng, f"{prefix}{k}", WINDOW, shifted=True)
        await monitor.on_predictions(batch, Envelope("conveyor.events.v1.PredictionsLogged", "serving", "churn"))
        sent.append(batch)
    return sent


def labels_for(batches, count: int, skip: int = 0) -> list[tuple[str, int, str]]:
    rows = [(b.columns.request_ids[i], b.columns.request_rows[i]) for b in batches for i in range(b.columns.rows)]
    return [(r, n, "yes" if n % 3 else "no") for r, n in rows[skip:skip + count]]


def read_table(monitor, event: ev.FeedbackCollected):
    return pq.read_table(io.BytesIO(monitor.store.get(event.uri)))


async def test_an_alarm_waits_for_labels_then_the_feedback_goes_out_once(bus, tmp_path):
    rng = np.random.default_rng(4)
    monitor = make_monitor(bus, tmp_path, retrain_cooldown_seconds=0)
    await promote(monitor, reference(rng))
    batches = await drifted_windows(monitor, rng, "a")
    [drift] = bus.events(ev.DriftDetected)
    assert {f.feature: f.method for f in drift.features} == {"tenure": "ks", "plan": "chisquare", "smoker": "z"}
    assert {f.feature for f in drift.features if f.drifted} >= {"tenure", "plan"}
    [deferred] = bus.events(ev.RetrainDeferred)
    assert (deferred.labelled_rows, deferred.needed_rows, deferred.trigger) == (0, NEEDED, "drift")
    assert deferred.reason.startswith(f"drift detected; waiting for labelled data: 0 of {NEEDED} labels")

    answer = await monitor.on_labels(labels_for(batches, 30))
    assert answer["joined"] == 30 and answer["feedback"] == [] and bus.events(ev.FeedbackCollected) == []
    answer = await monitor.on_labels(labels_for(batches, 20, skip=30))
    [feedback] = bus.events(ev.FeedbackCollected)  # the 50th label closes the loop: nobody asked again
    assert answer["feedback"] == [{"model_name": "churn", "version": 1, "rows": NEEDED, "uri": feedback.uri}]
    assert (feedback.model_name, feedback.version, feedback.rows, feedback.trigger) == ("churn", 1, NEEDED, "drift")
    assert feedback.dataset_id == "d1" and feedback.artifact_uri == "file:///m/v1.onnx"
    assert feedback.reason == deferred.reason.split("(", 1)[1].rstrip(")")  # the alarm's own reason
    assert (feedback.window_start_ms, feedback.window_end_ms) == (1_700_000_000_000, 1_700_000_000_049)

    table = read_table(monitor, feedback)
    assert table.column_names == ["tenure", "plan", "smoker", "region", "churned"]
    first = batches[0].columns
    rows = table.to_pylist()
    assert [r["plan"] for r in rows[:12]] == [p or None for p in first.text_features["plan"].values[:12]]
    assert rows[0]["tenure"] is None and rows[1]["tenure"] == pytest.approx(first.features[2])  # NaN -> null
    assert [r["smoker"] for r in rows[:4]] == [bool(first.features[2 * i + 1]) for i in range(4)]
    assert [r["region"] for r in rows[:3]] == [None, "north", None]
    assert [r["churned"] for r in rows[:4]] == ["no", "yes", "yes", "no"]
    assert feedback.sha256 == __import__("hashlib").sha256(monitor.store.get(feedback.uri)).hexdigest()

    # More drift, no new labels: the monitor says so instead of sending the same rows again.
    await drifted_windows(monitor, rng, "b")
    assert len(bus.events(ev.FeedbackCollected)) == 1
    assert bus.events(ev.RetrainDeferred)[-1].labelled_rows == 0
    # 50 new labels: a second table with only those rows.
    await monitor.on_labels(labels_for(batches, NEEDED, skip=NEEDED))
    first_table, second = bus.events(ev.FeedbackCollected)
    assert second.rows == NEEDED and second.sha256 != first_table.sha256
    assert read_table(monitor, second).column("tenure").to_pylist()[1] == pytest.approx(first.features[2 * 51])


async def test_enough_labels_before_the_alarm_send_the_feedback_at_once(bus, tmp_path):
    rng = np.random.default_rng(5)
    monitor = make_monitor(bus, tmp_path)
    await promote(monitor, reference(rng, target=None))  # an older reference: the target column is "label"
    calm = columns_batch(rng, "calm", WINDOW, shifted=False)
    await monitor.on_predictions(calm, Envelope("conveyor.events.v1.PredictionsLogged", "serving", "churn"))
    await monitor.on_labels(labels_for([calm], 60))
    await drifted_windows(monitor, rng, "a")
    assert bus.events(ev.RetrainDeferred) == []
    [feedback] = bus.events(ev.FeedbackCollected)
    assert feedback.rows == 60 and read_table(monitor, feedback).column_names[-1] == "label"
    assert monitor.history.report("churn")["evaluations"][0]["retrain"].startswith("collected: 60 labelled rows")


async def test_cooldown_and_the_hourly_cap_still_hold(bus, tmp_path):
    rng = np.random.default_rng(6)
    monitor = make_monitor(bus, tmp_path, retrain_cooldown_seconds=0, retrain_max_per_hour=2)
    await promote(monitor, reference(rng))
    for prefix in "abc":  # six drifted windows: every one from the 2nd on alarms (no cooldown), 60 labels each
        batches = await drifted_windows(monitor, rng, prefix)
        await monitor.on_labels(labels_for(batches, 60))
    assert len(bus.events(ev.DriftDetected)) == 5
    outcomes = [e["retrain"].split(":")[0] + ":" + e["retrain"].split(":")[1] if e["retrain"].startswith("declined")
                else e["retrain"].split(":")[0] for e in reversed(monitor.history.report("churn")["evaluations"])]
    # the cap: two retrains an hour (a deferred one counts: its table goes out when the labels come)
    assert outcomes == ["", "deferred", "deferred", "declined: cap", "declined: cap", "declined: cap"]
    assert len(bus.events(ev.RetrainDeferred)) == 2 and len(bus.events(ev.FeedbackCollected)) == 2


async def test_a_new_champion_ends_the_wait_and_a_restart_keeps_it(bus, tmp_path):
    rng = np.random.default_rng(7)
    # no cooldown: the restart keeps cooldowns now (finding 8), and this test is about the waiting retrain
    monitor = make_monitor(bus, tmp_path, retrain_cooldown_seconds=0)
    await promote(monitor, reference(rng))
    batches = await drifted_windows(monitor, rng, "a")
    assert len(monitor.labels.waiting()) == 1
    monitor.labels.close()
    restarted = make_monitor(bus, tmp_path, retrain_cooldown_seconds=0)  # the same label store file
    restarted.champions.update(monitor.champions)
    assert [w.needed for w in restarted.labels.waiting()] == [NEEDED]
    await restarted.on_labels(labels_for(batches, NEEDED))
    assert len(bus.events(ev.FeedbackCollected)) == 1 and restarted.labels.waiting() == []

    await drifted_windows(restarted, rng, "b")  # a new alarm, no new labels: it waits
    assert [w.needed for w in restarted.labels.waiting()] == [NEEDED]
    await promote(restarted, reference(rng), version=2)
    assert restarted.labels.waiting() == []


def test_the_table_follows_the_reference_kinds():
    rng = np.random.default_rng(8)
    document = reference(rng) | {"task": "classification"}
    document["feature_names"].append("tier")
    document["kinds"]["tier"] = "categorical"
    document["columns"]["tier"] = [1, 2, 3] * 200  # integer-coded
    ref = parse_reference(document, "r")
    rows = [Labelled(i, Logged("churn", 1, "1", 0.9, 0.0, {}, "classification", "1",
                                {"tenure": None, "plan": "", "smoker": 0.0, "tier": 2.0}, 5), truth)
            for i, truth in enumerate([1, "0", 1.0])]
    table = pq.read_table(io.BytesIO(feedback_table(rows, ref, ("region", "plan"))))
    assert [str(t) for t in table.schema.types] == ["double", "string", "bool", "int64", "string", "int64"]
    assert table.to_pylist()[0] == {"tenure": None, "plan": None, "smoker": False, "tier": 2, "region": None,
                                    "churned": 1}


@pytest.mark.integration
async def test_on_the_broker_predictions_and_posted_labels_become_a_feedback_record(kafka_settings, tmp_path):
    """PredictionsLogged on Kafka + POST /labels -> FeedbackCollected on Kafka, whose table reads back."""
    import asyncio
    import time

    import httpx
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from conveyor_kernel import decode_event, topics
    from conveyor_kernel.callers import AllowedCaller
    from conveyor_kernel.kafka import KafkaPublisher
    from conveyor_monitor.wiring import create_app

    async def eventually(check, what: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while not (found := await check()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.2)
        return found

    async def records(topic: str) -> list:
        consumer = AIOKafkaConsumer(**kafka_settings.client_options(), enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(kafka_settings.topic(topic), 0)
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            consumer.seek(tp, 0)
            found = []
            while await consumer.position(tp) < end:
                for message in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                    envelope = Envelope.from_headers(list(message.headers))
                    found.append((envelope, decode_event(envelope, message.value)))
            return found
        finally:
            await consumer.stop()

    rng = np.random.default_rng(9)
    settings = MonitorSettings(kafka=kafka_settings, data_dir=tmp_path, window_size=WINDOW)
    app = create_app(settings)
    registry = KafkaPublisher(kafka_settings, source="registry")
    serving = KafkaPublisher(kafka_settings, source="serving")
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://monitor", auth=AllowedCaller.of(app)
    ) as client:
        await registry.start()
        await serving.start()
        try:
            async def ready():
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, "/readyz")
            _, uri = app.state.monitor.store.put_json("references", reference(rng))
            await registry.publish(ev.ModelPromoted(
                model_name="churn", version=1, reference_uri=uri, dataset_id="d1", artifact_uri="file:///m/v1.onnx",
                retrain=ev.RetrainPolicy(min_labels=NEEDED)), "churn")

            async def champion():
                return (await client.get("/models/churn/drift")).status_code == 200

            await eventually(champion, "the champion to be learned")
            batches = [columns_batch(rng, f"q{k}", WINDOW, shifted=True) for k in range(2)]
            for batch in batches:
                await serving.publish(batch, "churn")

            async def deferred():
                return [e for _, e in await records(topics.MONITORING) if isinstance(e, ev.RetrainDeferred)]

            [waiting] = await eventually(deferred, "RetrainDeferred on the monitoring topic")
            assert (waiting.labelled_rows, waiting.needed_rows) == (0, NEEDED)
            assert await records(topics.FEEDBACK) == []

            labels = [{"request_id": r, "row": n, "label": label} for r, n, label in labels_for(batches, NEEDED)]
            answer = (await client.post("/labels", json={"labels": labels})).json()
            assert answer["joined"] == NEEDED and len(answer["feedback"]) == 1
        finally:
            await serving.stop()
            await registry.stop()

    [(envelope, feedback)] = await records(topics.FEEDBACK)
    assert envelope.source == "monitor" and envelope.subject == "churn" and envelope.type.endswith("FeedbackCollected")
    assert feedback.rows == NEEDED and feedback.dataset_id == "d1" and feedback.trigger == "drift"
    table = read_table(app.state.monitor, feedback)
    assert table.num_rows == NEEDED and table.column_names == ["tenure", "plan", "smoker", "region", "churned"]
    plans = batches[0].columns.text_features["plan"].values
    assert table.column("plan").to_pylist()[:3] == [p or None for p in plans[:3]]
    assert table.column("churned").to_pylist()[:3] == ["no", "yes", "yes"]


def test_a_category_column_of_mixed_values_is_written_as_text():
    from conveyor_monitor.feedback import _column

    assert _column(["a", 1.0, None, ""], "categorical").to_pylist() == ["a", "1", None, None]
    assert _column([2.0, None, 3], "categorical").type == "int64"
