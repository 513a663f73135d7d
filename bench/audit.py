"""Audit ledger throughput and proof latency on this machine. Not a test: it asserts nothing, it prints.

1. Produces N small events to a fresh topic prefix, then in the same run measures
   a. the raw consume rate of that topic with aiokafka and with confluent-kafka (librdkafka, which the
      ledger consumer uses), no decoding, no storage, and
   b. the sustained ledger append rate: the audit consumer reading the same records and committing
      entries + subtree hashes + offsets with SQLite synchronous=FULL, one transaction per batch;
   c. the same on PostgreSQL (the local cluster, deploy/local/postgres.sh; a fresh database; default
      synchronous_commit=on), and the ratio PostgreSQL / SQLite (`--backends sqlite` to leave it out).
2. Builds the leaf hashes and complete-subtree table of a 10-million-leaf log (random hashes: proofs read
   the same rows whatever the values) and times inclusion and consistency proofs from it.

Usage: .venv/bin/python bench/audit.py [--events 100000] [--batch 2000] [--log-size 10000000] [--proofs 2000]
                                       [--tree-db PATH] [--backends sqlite,postgresql]
"""

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka import OFFSET_BEGINNING, Consumer
from confluent_kafka import TopicPartition as ConfluentPartition
from prometheus_client import CollectorRegistry

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.adapters.ledger_db import Ledger, open_ledger
from conveyor_audit.consumer import LedgerConsumer, settle_process
from conveyor_audit.metrics import AuditMetrics
from conveyor_cli.kafka_accounts import kafka_settings
from conveyor_kernel import EventRuntime, KafkaSettings, ServiceSettings, topics
from conveyor_kernel.kafka import ensure_topics
from conveyor_kernel.memory import build_record


async def produce(settings: KafkaSettings, count: int) -> str:
    await ensure_topics(settings, topics.LIFECYCLE)
    producer = AIOKafkaProducer(**settings.client_options(), linger_ms=20,
                                max_batch_size=512 * 1024, acks="all")
    await producer.start()
    try:
        futures = []
        for i in range(count):
            record, _ = build_record(ev.ModelDeployed(model_name=f"m{i % 10}", version=i), f"m{i % 10}",
                                     "bench", settings.topic_prefix)
            futures.append(await producer.send(record.topic, record.value, key=record.key,
                                               headers=list(record.headers)))
        await asyncio.gather(*futures)
        return record.topic
    finally:
        await producer.stop()


async def raw_consume(settings: KafkaSettings, topic: str, count: int) -> float:
    partition = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(**settings.client_options(), enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        seen, started = 0, time.perf_counter()
        while seen < count:
            for messages in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                seen += len(messages)
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def raw_confluent(settings: KafkaSettings, topic: str, count: int) -> float:
    consumer = Consumer({**settings.librdkafka_options(), "group.id": "bench-unused",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        consumer.assign([ConfluentPartition(topic, 0, OFFSET_BEGINNING)])
        seen, started = 0, time.perf_counter()
        while seen < count:
            seen += len(consumer.consume(5000, 1.0))
        return count / (time.perf_counter() - started)
    finally:
        consumer.close()


async def ledger_append(settings: KafkaSettings, count: int, batch: int, state: Path,
                        database_url: str = "") -> tuple[float, float]:
    """(events/s from the consumer's start, events/s from its first committed batch on): the first
    includes connecting and the first fetch, the second is the sustained rate the target is about."""
    ledger = open_ledger(state, database_url)
    runtime = EventRuntime(ServiceSettings(kafka=settings), source="bench")  # the dead letters' publisher
    consumer = LedgerConsumer(settings, ledger, runtime.dead_letters, AuditMetrics.create(CollectorRegistry()),
                              batch_size=batch)
    await runtime.start()
    settle_process()  # as the service does right before its consumer starts
    await consumer.start()
    started = time.perf_counter()
    try:
        while ledger.size == 0:
            await asyncio.sleep(0.002)
        first_landed, first_size = time.perf_counter(), ledger.size
        while ledger.size < count:
            await asyncio.sleep(0.002)
        ended = time.perf_counter()
        return count / (ended - started), (count - first_size) / (ended - first_landed)
    finally:
        await consumer.stop()
        await runtime.stop()
        ledger.close()


def build_tree_tables(path: Path, size: int) -> None:
    """What a proof reads in a `size`-leaf ledger: the leaf hashes in entries (other columns left
    empty) and every complete subtree above them, as the ledger stores them (random values)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    Ledger(path).close()  # the real schema
    conn.execute("BEGIN")
    for start in range(0, size, 100_000):
        n = min(100_000, size - start)
        blob = os.urandom(32 * n)
        conn.executemany(
            "INSERT INTO entries (idx, event_id, type, source, subject, time, topic, partition, \"offset\", "
            "leaf_bytes, leaf_hash, chain_hash, recorded_at) "
            "VALUES (?1, printf('%012d', ?1), '', '', '', '', '', 0, 0, x'', ?2, x'', '')",
            ((start + i, blob[32 * i: 32 * i + 32]) for i in range(n)))
    level, width = 1, size // 2
    while width:
        for start in range(0, width, 100_000):
            n = min(100_000, width - start)
            blob = os.urandom(32 * n)
            conn.executemany("INSERT INTO subtree (level, idx, hash) VALUES (?, ?, ?)",
                             ((level, start + i, blob[32 * i: 32 * i + 32]) for i in range(n)))
        level, width = level + 1, width // 2
    conn.execute("COMMIT")
    conn.close()


def time_proofs(path: Path, size: int, count: int) -> tuple[float, float]:
    ledger = Ledger(path)
    rng = random.Random(1)
    inclusion, consistency = [], []
    try:
        for _ in range(count):
            index = rng.randrange(size)
            started = time.perf_counter()
            ledger.proof(index, size)
            inclusion.append(time.perf_counter() - started)
            first = rng.randrange(1, size)
            started = time.perf_counter()
            ledger.consistency(first, size)
            consistency.append(time.perf_counter() - started)
    finally:
        ledger.close()
    return statistics.median(inclusion) * 1e3, statistics.quantiles(inclusion, n=100)[98] * 1e3, \
        statistics.median(consistency) * 1e3


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--log-size", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--tree-db", type=Path, default=Path(tempfile.gettempdir()) / "conveyor-bench-tree-v3.db",
                        help="kept between runs: building it takes a while")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    settings = kafka_settings(os.environ.get("CONVEYOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                              f"bench{uuid.uuid4().hex[:8]}.")  # the super user on the local SASL broker
    started = time.perf_counter()
    topic = await produce(settings, args.events)
    print(f"produced {args.events} events in {time.perf_counter() - started:.1f}s")
    raw = await raw_consume(settings, topic, args.events)
    raw_librdkafka = raw_confluent(settings, topic, args.events)
    with tempfile.TemporaryDirectory() as state:
        append, sustained = await ledger_append(settings, args.events, args.batch, Path(state))
    print(f"raw aiokafka consume:        {raw:10,.0f} events/s")
    print(f"raw confluent-kafka consume: {raw_librdkafka:10,.0f} events/s")
    print(f"ledger append (durable):     {sustained:10,.0f} events/s sustained, from the first committed batch "
          f"({append:,.0f} /s counting the consumer's start; batch {args.batch}, synchronous=FULL)")
    if "postgresql" in args.backends:
        from conveyor_cli.local_state import create_database, drop_database, postgres_admin_url

        admin = postgres_admin_url()
        url = create_database(admin)
        try:
            with tempfile.TemporaryDirectory() as state:
                pg_append, pg_sustained = await ledger_append(settings, args.events, args.batch, Path(state), url)
        finally:
            drop_database(admin, url)
        print(f"ledger append, PostgreSQL:   {pg_sustained:10,.0f} events/s sustained ({pg_append:,.0f} /s counting "
              f"the start; synchronous_commit=on); PostgreSQL / SQLite {pg_sustained / sustained:.2f}")
    if args.log_size <= 0:
        return
    marker = args.tree_db.with_suffix(f".{args.log_size}.done")
    if not marker.exists():
        args.tree_db.unlink(missing_ok=True)
        started = time.perf_counter()
        build_tree_tables(args.tree_db, args.log_size)
        marker.touch()
        print(f"built the tree tables of a {args.log_size:,}-leaf log in {time.perf_counter() - started:.0f}s")
    median, p99, consistency = time_proofs(args.tree_db, args.log_size, args.proofs)
    print(f"inclusion proof, {args.log_size:,} leaves: median {median:.3f} ms, p99 {p99:.3f} ms")
    print(f"consistency proof, {args.log_size:,} leaves: median {consistency:.3f} ms")


if __name__ == "__main__":
    asyncio.run(main())
