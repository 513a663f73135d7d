"""Exactly once under SIGKILL: 50,000 events, the audit process killed at random moments and restarted.

Afterwards every event is in the ledger once, the ledger verifies, and the key-only CLI verifier agrees.
"""

import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from typer.testing import CliRunner

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.note import Signer, parse_vkey, verify_checkpoint
from conveyor_cli.audit_cmd import audit_app
from conveyor_kernel import KafkaSettings, topics
from conveyor_kernel.callers import AllowedCaller
from conveyor_kernel.identity import AUDITOR, DevIssuer
from conveyor_kernel.memory import build_record

pytestmark = pytest.mark.integration
EVENTS = 50_000
RESENT = 500   # producer retries after a lost ack: same ce_id, new offset
KILLS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AuditProcess:
    def __init__(self, data_dir: Path, port: int, kafka: KafkaSettings) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "CONVEYOR_DATA_DIR": str(data_dir), "CONVEYOR_PORT": str(port),
                    **kafka.as_env(), "CONVEYOR_BATCH_SIZE": "1000",
                    "CONVEYOR_CHECKPOINT_EVERY": "7000", "CONVEYOR_CHECKPOINT_SECONDS": "1"}
        self.log = data_dir / "audit.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "conveyor_audit"], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def wait_ready(self, client: httpx.AsyncClient, seconds: float = 40) -> None:
        for _ in range(int(seconds / 0.1)):
            assert self.process is not None and self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if (await client.get(f"{self.url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"audit not ready after {seconds}s: {self.log.read_text()[-3000:]}")

    async def size(self, client: httpx.AsyncClient) -> int:
        return (await client.get(f"{self.url}/ledger/root")).json()["size"]


async def produce(kafka: KafkaSettings, prefix: str) -> set[str]:
    producer = AIOKafkaProducer(**kafka.client_options(), acks="all", enable_idempotence=True,
                                linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    ids, futures, kinds = set(), [], [
        lambda i: (ev.ModelDeployed(model_name=f"m{i % 7}", version=i), f"m{i % 7}"),
        lambda i: (ev.DriftDetected(model_name=f"m{i % 7}", version=i, drift_share=0.1), f"m{i % 7}"),
        lambda i: (ev.DatasetRejected(name=f"d{i}"), f"d{i}"),
    ]
    try:
        records = []
        for i in range(EVENTS):
            record, envelope = build_record(*kinds[i % 3](i), source="crash-test", prefix=prefix)
            ids.add(envelope.id)
            records.append(record)
        for record in [*records, *random.Random(1).sample(records, RESENT)]:
            futures.append(await producer.send(record.topic, record.value, key=record.key,
                                               headers=list(record.headers)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return ids


async def published_checkpoints(kafka: KafkaSettings, topic: str) -> list[str]:
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        notes: list[str] = []
        while len(notes) < end:
            for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                notes += [ev.CheckpointIssued.FromString(m.value).note for m in messages]
        return notes
    finally:
        await consumer.stop()


async def test_sigkill_at_random_moments_loses_and_repeats_nothing(kafka_settings, tmp_path) -> None:
    prefix = kafka_settings.topic_prefix
    audit = AuditProcess(tmp_path, free_port(), kafka_settings)
    rng = random.Random()
    async with httpx.AsyncClient(timeout=10, auth=AllowedCaller(tmp_path / "auth", "audit")) as client:
        audit.start()
        try:
            await audit.wait_ready(client)  # it creates the topics
            producing = asyncio.create_task(produce(kafka_settings, prefix))
            kills = 0
            while kills < KILLS:
                await asyncio.sleep(rng.uniform(0.3, 2.0))
                audit.kill()
                kills += 1
                audit.start()
                await audit.wait_ready(client)
            ids = await producing
            for _ in range(600):  # every event in, and the timer has signed the final size
                latest = await client.get(f"{audit.url}/ledger/checkpoint")
                if latest.status_code == 200 and latest.json()["size"] >= EVENTS:
                    break
                await asyncio.sleep(0.1)
            verified = (await client.get(f"{audit.url}/ledger/verify")).json()
            assert verified["ok"], verified["problems"]
            assert verified["size"] == EVENTS
            cli_checks(audit.url, tmp_path)
        finally:
            if audit.process is not None and audit.process.poll() is None:
                audit.kill()
    with sqlite3.connect(tmp_path / "audit" / "ledger.db") as conn:
        stored = [row[0] for row in conn.execute("SELECT event_id FROM entries ORDER BY idx")]
        signed_sizes = [row[0] for row in conn.execute("SELECT size FROM checkpoint ORDER BY size")]
    assert len(stored) == EVENTS and set(stored) == ids  # 0 missing, 0 duplicated
    assert audit.log.read_text().count("ledger verified") == KILLS + 1  # every restart verified first
    verifier = parse_vkey(CliRunner().invoke(audit_app, ["public-key", "--data-dir", str(tmp_path)]).stdout)
    notes = await published_checkpoints(kafka_settings, kafka_settings.topic(topics.CHECKPOINTS))
    published = {verify_checkpoint(note, verifier).size for note in notes}
    assert published == set(signed_sizes) and max(published) == EVENTS  # copies outside the database


def cli_checks(url: str, data_dir: Path) -> None:
    # the CLI takes its token from CONVEYOR_TOKEN, as every command does
    runner = CliRunner(env={"CONVEYOR_TOKEN": DevIssuer.ensure(data_dir / "auth").mint("verifier", AUDITOR)})
    vkey = runner.invoke(audit_app, ["public-key", "--data-dir", str(data_dir)]).stdout.strip()
    with sqlite3.connect(data_dir / "audit" / "ledger.db") as conn:
        older = conn.execute("SELECT note FROM checkpoint WHERE size > 0 ORDER BY size LIMIT 1").fetchone()[0]
    (data_dir / "older.note").write_text(older)
    result = runner.invoke(audit_app, [
        "verify", "--key", vkey, "--url", url, "--since", str(data_dir / "older.note"),
        "--index", "0", "--index", str(EVENTS - 1), "--full", "--save", str(data_dir / "latest.note"),
    ])
    assert result.exit_code == 0, result.stdout
    assert f"all {EVENTS} entries recomputed" in result.stdout and "consistency proof" in result.stdout
    impostor = Signer.generate(vkey.split("+")[0]).verifier.vkey()  # same name, another key
    forged = runner.invoke(audit_app, ["verify", "--key", impostor, "--url", url])
    assert forged.exit_code == 1 and "no signature" in forged.stdout
