"""The trainer against the real broker: a DatasetArrived in, a ModelTrained with a loadable ONNX model out."""

import asyncio

import onnxruntime as ort
import pytest
from aiokafka import AIOKafkaConsumer

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Envelope, KafkaSettings, decode_event, topics
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_trainer.settings import TrainerSettings
from conveyor_trainer.wiring import create_app

from .conftest import fair_features, table_event

pytestmark = pytest.mark.integration


async def wait_until(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def model_events(kafka: KafkaSettings, count: int, seconds: float) -> list:
    consumer = AIOKafkaConsumer(
        kafka.topic(topics.MODELS), **kafka.client_options(), auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list = []
    try:
        async with asyncio.timeout(seconds):
            while len(found) < count:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    found += [decode_event(Envelope.from_headers(list(m.headers)), m.value) for m in messages]
    finally:
        await consumer.stop()
    return found


async def first_model_event(kafka: KafkaSettings, seconds: float) -> ev.ModelTrained | ev.ModelTrainingFailed:
    consumer = AIOKafkaConsumer(
        kafka.topic(topics.MODELS), **kafka.client_options(), auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    envelope = Envelope.from_headers(list(message.headers))
                    return decode_event(envelope, message.value)  # type: ignore[return-value]
    finally:
        await consumer.stop()
    raise AssertionError(f"no event on {topics.MODELS} within {seconds}s")


async def test_dataset_arrived_over_kafka_yields_a_loadable_model(
    kafka_settings: KafkaSettings,
    settings: TrainerSettings,
    make_dataset,  # type: ignore[no-untyped-def]
) -> None:
    settings.kafka = kafka_settings
    app = create_app(settings)
    runtime, ports = app.state.runtime, app.state.ports
    dataset = make_dataset()  # written to the artifact store under settings.data_dir, where the trainer reads
    await ensure_topics(kafka_settings, [topics.MODELS])
    ingest = KafkaPublisher(kafka_settings, source="ingest-test")
    await runtime.start()
    await ingest.start()
    try:
        await wait_until(lambda: not runtime.problems(), seconds=60)
        await ingest.publish(dataset, subject=dataset.dataset_id)
        outcome = await first_model_event(kafka_settings, seconds=90)
    finally:
        await ingest.stop()
        await runtime.stop()
    assert isinstance(outcome, ev.ModelTrained), outcome
    assert (outcome.model_name, outcome.dataset_id) == ("cancer", dataset.dataset_id)
    model = settings.artifacts().get(outcome.artifact_uri)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    [run] = ports.state.recent_runs(5)
    assert run["status"] == "trained" and run["run_id"] == outcome.run_id


async def test_production_feedback_over_kafka_retrains_and_judges_the_champion_on_fresh_rows(
    kafka_settings: KafkaSettings, settings: TrainerSettings, store: ArtifactStore, fair_frame,  # type: ignore[no-untyped-def]
) -> None:
    from .test_trainer_retrain import feedback_event, shifted, survey

    settings.kafka = kafka_settings
    app = create_app(settings)
    runtime = app.state.runtime
    frame = survey(fair_frame)
    original = table_event(store, frame.drop(columns=["affairs"]).iloc[:3000], fair_features(), "had_affair")
    await ensure_topics(kafka_settings, [topics.MODELS])
    ingest = KafkaPublisher(kafka_settings, source="ingest-test")
    await runtime.start()
    await ingest.start()
    try:
        await wait_until(lambda: not runtime.problems(), seconds=60)
        await ingest.publish(original, subject=original.dataset_id)
        [champion] = await model_events(kafka_settings, 1, seconds=90)
        assert isinstance(champion, ev.ModelTrained), champion
        feedback = feedback_event(store, shifted(frame.iloc[3000:3800]), champion)
        await ingest.publish(feedback, subject=feedback.dataset_id)
        _, retrained = await model_events(kafka_settings, 2, seconds=90)
    finally:
        await ingest.stop()
        await runtime.stop()
    assert isinstance(retrained, ev.ModelTrained), retrained
    assert (retrained.trigger, retrained.dataset_id) == ("production_feedback", feedback.dataset_id)
    assert retrained.artifact_uri != champion.artifact_uri
    comparison = retrained.comparison
    assert comparison.champion_version == 1 and comparison.rows == 240
    assert comparison.challenger_metrics["roc_auc"] > comparison.champion_metrics["roc_auc"]
