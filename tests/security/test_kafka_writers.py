"""Kafka knows who writes: on the local SASL broker a forged record never reaches the ledger.

The audit service runs on the real broker as its own principal; the trainer's principal writes a ModelTrained
(the control: it must reach the ledger). Then a forger tries conveyor.models with no credentials, with made-up
credentials, and with ingest's (a DatasetArrived and an empty ModelTrained, as in issue 12): the broker refuses
each, and the ledger holds the trainer's event alone.
"""

import asyncio
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.settings import AuditSettings
from conveyor_audit.wiring import create_app
from conveyor_cli.kafka_accounts import broker_admin, every_grant, provision
from conveyor_kernel import EventRuntime, KafkaSettings, ServiceSettings, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.kafka import ensure_topics
from conveyor_kernel.memory import build_record

pytestmark = pytest.mark.integration


@pytest.fixture
def accounts(kafka_bootstrap):
    admin = broker_admin(kafka_bootstrap, f"acl{uuid.uuid4().hex[:10]}.")
    if admin is None:
        pytest.skip(f"{kafka_bootstrap} is not the local SASL broker (deploy/local/kafka.sh): no ACLs to test")
    return admin, provision(admin, every_grant().values())


async def _forge(settings: KafkaSettings, event, topic: str) -> Exception:
    """Try to write `event` onto `topic` as `settings`; return what stopped it."""
    record, _ = build_record(event, "breast-cancer", source="trainer")  # it even claims to be the trainer
    producer = AIOKafkaProducer(**settings.client_options(), request_timeout_ms=5000, metadata_max_age_ms=1000)
    try:
        await producer.start()
        await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)
    except KafkaError as exc:
        return exc
    finally:
        await producer.stop()
    raise AssertionError(f"{settings.sasl_username or 'an anonymous client'} wrote onto {topic}")


async def _ledger_entries(client: httpx.AsyncClient, at_least: int) -> list[dict]:
    async with asyncio.timeout(30):
        while True:
            body = (await client.get("/ledger", params={"limit": 100})).json()
            if body["total"] >= at_least:
                return body["entries"]
            await asyncio.sleep(0.1)


async def _records_on(admin: KafkaSettings, topic: str) -> int:
    consumer = AIOKafkaConsumer(**admin.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        return (await consumer.end_offsets([partition]))[partition]
    finally:
        await consumer.stop()


async def test_a_forged_event_is_refused_by_the_broker_and_never_reaches_the_ledger(accounts, tmp_path, caplog):
    admin, principals = accounts
    models = admin.topic(topics.MODELS)
    app = create_app(AuditSettings(data_dir=tmp_path, kafka=principals["audit"], checkpoint_seconds=3600))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://audit", auth=AllowedCaller.of(app)) as client:
        trainer = EventRuntime(ServiceSettings(kafka=principals["trainer"], data_dir=tmp_path), source="trainer",
                               publishes=[ev.ModelTrained])
        await trainer.start()
        try:
            genuine = await trainer.publisher.publish(ev.ModelTrained(model_name="breast-cancer", run_id="r1"),
                                                      "breast-cancer")
        finally:
            await trainer.stop()

        anonymous = KafkaSettings(bootstrap_servers=admin.bootstrap_servers)  # no SASL at all
        stranger = admin.as_user("mallory", "guessed")
        ingest = principals["ingest"]
        refusals = {
            "no credentials": await _forge(anonymous, ev.DatasetArrived(name="breast-cancer"), models),
            "made-up credentials": await _forge(stranger, ev.ModelTrained(), models),
            "ingest's credentials": await _forge(ingest, ev.DatasetArrived(name="breast-cancer"), models),
            "ingest's credentials, empty ModelTrained": await _forge(ingest, ev.ModelTrained(), models),
        }
        [entry] = await _ledger_entries(client, 1)
    assert isinstance(refusals["no credentials"], KafkaConnectionError)
    # aiokafka reports a refused login as a failed bootstrap; the broker's reason is in its log
    assert isinstance(refusals["made-up credentials"], KafkaConnectionError)
    assert "SaslAuthenticationFailed" in caplog.text and "invalid credentials" in caplog.text
    assert isinstance(refusals["ingest's credentials"], TopicAuthorizationFailedError)
    assert isinstance(refusals["ingest's credentials, empty ModelTrained"], TopicAuthorizationFailedError)
    assert entry["event_id"] == genuine.id and entry["event"]["principal"]["subject"] == "trainer"
    assert await _records_on(admin, models) == 1  # nothing forged reached the topic, so nothing could be read


async def test_a_service_reads_only_what_it_subscribes(accounts):
    admin, principals = accounts
    await ensure_topics(admin, [topics.REGISTRY])
    ingest = principals["ingest"]  # subscribes nothing: the registry's topic is not its to read
    consumer = AIOKafkaConsumer(admin.topic(topics.REGISTRY), **ingest.client_options(),
                                group_id=ingest.group("ingest"), auto_offset_reset="earliest")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.start()
            await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
