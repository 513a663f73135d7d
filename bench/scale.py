"""The busiest path, prediction logs through the monitor, with 1, 2 and 4 monitor instances in one consumer group.
Not a test: it asserts nothing, it prints.

Each run gets a fresh topic prefix: conveyor.predictions and conveyor.registry created with --partitions
partitions (the monitor's tables get as many: CONVEYOR_TABLE_PARTITIONS), --models champions promoted (model
names spread over the partitions; one model's windows are ordered, so a model is the unit a monitor instance
takes), then N instances of `python -m conveyor_monitor` started as separate processes sharing one label store
(a SQLite file in a shared data dir, or --database postgresql: a fresh database on the local PostgreSQL) and
one artifact folder. Once every instance is ready, the same backlog of PredictionsLogged batches (serving's
columnar form, 500 rows each) is produced and the clock runs until the instances' predictions-consumed counters
(scraped from their /metrics) add up to it. It prints predictions/s per instance count, the scaling ratio
rate(N) / (N x rate(1)) (goal >= 0.8 where cores allow), the CPU seconds each process used, and the cores.

Usage: .venv/bin/python bench/scale.py [--predictions 60000] [--instances 1,2,4] [--partitions 4] [--models 8]
                                       [--database sqlite|postgresql]
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

from conveyor.events.v1 import events_pb2 as ev
from conveyor_cli.kafka_accounts import kafka_settings
from conveyor_cli.local_state import create_database, drop_database, free_port, postgres_admin_url
from conveyor_kernel import FileStore, KafkaSettings, topics
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monitor import batch, demo_data  # noqa: E402 - the monitor bench's batches, in serving's form

BATCH = 500
METRIC = "conveyor_monitor_predictions_consumed_total"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"kafka.Kafka" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        except OSError:
            continue
    return None


async def consumed(client: httpx.AsyncClient, ports: list[int]) -> float:
    total = 0.0
    for port in ports:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        total += sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(METRIC + "{"))
    return total


async def wait(check, what: str, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


def start_monitors(count: int, kafka: KafkaSettings, data_dir: Path, args: argparse.Namespace,
                   database_url: str) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    processes, ports = [], []
    for k in range(count):
        port = free_port()
        env = {**os.environ, **kafka.as_env(), "CONVEYOR_DATA_DIR": str(data_dir), "CONVEYOR_PORT": str(port),
               "CONVEYOR_TABLE_PARTITIONS": str(args.partitions), "CONVEYOR_WINDOW_SIZE": "500",
               "CONVEYOR_DATABASE_URL": database_url, "CONVEYOR_SESSION_TIMEOUT_SECONDS": "10"}
        log = (data_dir / f"monitor-{k}.log").open("ab")
        processes.append(subprocess.Popen([sys.executable, "-m", "conveyor_monitor"], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        ports.append(port)
    return processes, ports


async def one_run(count: int, args: argparse.Namespace, logged: list[ev.PredictionsLogged], reference: dict,
                  database_url: str) -> tuple[float, list[float], float]:
    kafka = kafka_settings(args.bootstrap, f"scale{uuid.uuid4().hex[:8]}.")
    await ensure_topics(kafka, [topics.PREDICTIONS, topics.REGISTRY], partitions=args.partitions)
    models = [f"bench-{m}" for m in range(args.models)]
    with tempfile.TemporaryDirectory() as state:
        data_dir = Path(state)
        _, uri = FileStore(data_dir / "artifacts").put_json("references", reference)
        publisher = KafkaPublisher(kafka, source="registry")
        await publisher.start()
        for model in models:
            await publisher.publish(ev.ModelPromoted(model_name=model, version=1, reference_uri=uri), model)
        processes, ports = start_monitors(count, kafka, data_dir, args, database_url)
        broker = broker_pid()
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                async def ready() -> bool:
                    for port in ports:
                        try:
                            if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code != 200:
                                return False
                        except httpx.HTTPError:
                            return False
                    return True
                await wait(ready, f"{count} monitor(s) to be ready", 180)
                cpu_before = [cpu_seconds(p.pid) for p in processes]
                broker_before = cpu_seconds(broker) if broker else 0.0
                began = time.perf_counter()
                for k, one in enumerate(logged):  # the same backlog, round-robin over the models
                    one.model_name = models[k % len(models)]
                    await publisher.publish(one, one.model_name)

                async def done() -> bool:
                    return await consumed(client, ports) >= len(logged) * BATCH
                await wait(done, "the backlog", 600)
                seconds = time.perf_counter() - began
                cpu = [cpu_seconds(p.pid) - before for p, before in zip(processes, cpu_before, strict=True)]
                broker_cpu = cpu_seconds(broker) - broker_before if broker else float("nan")
        finally:
            await publisher.stop()
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return seconds, cpu, broker_cpu


async def main(args: argparse.Namespace) -> None:
    data, names, reference = demo_data()
    rng = np.random.default_rng(1)
    logged = [batch(data[rng.integers(0, len(data), BATCH)], names, start)
              for start in range(0, args.predictions, BATCH)]
    n = len(logged) * BATCH
    admin = postgres_admin_url() if args.database == "postgresql" else ""
    print(f"monitor scaling: {n} predictions in {len(logged)} batches over {args.models} models, "
          f"{args.partitions} partitions, label store on {args.database}, {os.cpu_count()} cores", flush=True)
    rates: dict[int, float] = {}
    for count in args.instances:
        url = create_database(admin) if admin else ""
        try:
            seconds, cpu, broker_cpu = await one_run(count, args, logged, reference, url)
        finally:
            if url:
                drop_database(admin, url)
        rates[count] = n / seconds
        print(f"  {count} instance(s): {rates[count]:8.0f} predictions/s ({seconds:.2f} s); CPU s per monitor "
              f"{', '.join(f'{c:.1f}' for c in cpu)}; broker {broker_cpu:.1f}", flush=True)
    base = rates.get(1)
    if base:
        for count, rate in rates.items():
            if count > 1:
                print(f"  scaling {count} vs 1: {rate / base:.2f}x, ratio to linear {rate / (count * base):.2f} "
                      "(goal >= 0.8 where cores allow)")
    cores = os.cpu_count() or 1
    if cores < max(args.instances) + 1:
        print(f"  this machine has {cores} cores for {max(args.instances)} monitors, the broker and the producer: "
              "beyond one monitor per free core, instances share CPU, so the ratio to linear measures the "
              "machine, not the design; the CPU seconds per monitor show how the work was split")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--predictions", type=int, default=60_000)
    parser.add_argument("--instances", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--bootstrap", default=os.environ.get("CONVEYOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    asyncio.run(main(parser.parse_args()))
