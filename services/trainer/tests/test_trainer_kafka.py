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

pytestmark = pytest.mark.integration


async def wait_until(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


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
    model = ArtifactStore(settings.artifact_root).get(outcome.artifact_uri)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    [run] = ports.state.recent_runs(5)
    assert run["status"] == "trained" and run["run_id"] == outcome.run_id
