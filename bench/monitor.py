"""Monitor throughput, detection delay and false alarms on this machine. Not a test: it asserts nothing, it prints.

1. Throughput: produces N predictions (PredictionsLogged batches of the demo's 30 breast-cancer features) to a
   fresh topic prefix, then in the same run measures
   a. the raw aiokafka consume rate of that topic (fetch only, no decoding), and
   b. the monitor's rate: the real service (faust agents, kernel dispatch, faust table changelog, window
      evaluation) started in-process, timed until its predictions-consumed counter reaches N.
2. Detection delay: windows from a shift (starting mid-window) until a window is flagged as drifted and
   until the service's confirmation rule (conveyor_monitor.confirm.DriftConfirmation) raises the alarm,
   for the demo's sensor shift and for a subtle one (+0.25 std on a third of the features).
3. False alarms: dataset-level alarms over M undrifted predictions (rows resampled from the data the
   reference came from), through the same Evaluator and DriftConfirmation the service runs; drifted windows
   (by the share rule and by PCA) and drifted columns are counted too.

Usage: .venv/bin/python bench/monitor.py [--kafka-predictions 50000] [--batch 100] [--window 200]
                                         [--undrifted 1000000] [--shifts 20] [--confirm 2]
                                         [--stages detection,false-alarms,throughput]
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition
from sklearn.datasets import load_breast_cancer

from conveyor.events.v1 import events_pb2 as ev
from conveyor_cli.kafka_accounts import kafka_settings
from conveyor_kernel import ArtifactStore, KafkaSettings, topics
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_monitor.confirm import DriftConfirmation
from conveyor_monitor.evaluation import Evaluator
from conveyor_monitor.handlers import Monitor
from conveyor_monitor.reference import parse_reference
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.window import Window
from conveyor_monitor.wiring import create_app

MODEL = "bench"


def demo_data(seed: int = 42) -> tuple[np.ndarray, list[str], dict]:
    raw = load_breast_cancer()
    names = [n.replace(" ", "_") for n in raw.feature_names]
    rng = np.random.default_rng(seed)
    train = raw.data[rng.permutation(len(raw.data))[:455]]  # the trainer's 80 % split
    reference = {
        "feature_names": names, "kinds": {n: "numeric" for n in names},
        "columns": {n: train[:, i].tolist() for i, n in enumerate(names)},
        "predictions": [str(int(v > np.median(train[:, 0]))) for v in train[:, 0]],
        "task": "classification", "class_labels": ["0", "1"],
    }
    return raw.data, names, reference


def batch(rows: np.ndarray, names: list[str], start: int) -> ev.PredictionsLogged:
    return ev.PredictionsLogged(
        model_name=MODEL, version=1, feature_names=names, class_labels=["0", "1"],
        predictions=[ev.Prediction(request_id=f"q{start}", row=i, features=r.tolist(), label=str(i % 2),
                                   probabilities=[0.5, 0.5], attributes={"clinic": "north" if i % 2 else "south"})
                     for i, r in enumerate(rows)],
    )


@asynccontextmanager
async def running(settings: MonitorSettings) -> AsyncIterator[Monitor]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        stream = app.state.stream
        await until(lambda: not stream.problems(), "the monitor to be ready", 120, stream.problems)
        yield app.state.monitor


async def until(check: Callable[[], bool], what: str, timeout: float, status: Callable[[], object] = str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what} ({status()})")
        await asyncio.sleep(0.1)


async def produce(args: argparse.Namespace, kafka: KafkaSettings, data: np.ndarray, names: list[str]) -> None:
    rng = np.random.default_rng(1)
    publisher = KafkaPublisher(kafka, source="bench")
    await publisher.start()
    for start in range(0, args.kafka_predictions, args.batch):
        await publisher.publish(batch(data[rng.integers(0, len(data), args.batch)], names, start), MODEL)
    await publisher.stop()


async def raw_consume(kafka: KafkaSettings) -> float:
    """Seconds for a plain aiokafka consumer to fetch the same topic end to end (no decoding)."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        tp = TopicPartition(kafka.topic(topics.PREDICTIONS), 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, 0)
        began = time.perf_counter()
        while await consumer.position(tp) < end:
            await consumer.getmany(tp, timeout_ms=500, max_records=10_000)
        return time.perf_counter() - began
    finally:
        await consumer.stop()


async def throughput(args: argparse.Namespace, data: np.ndarray, names: list[str], reference: dict) -> None:
    kafka = kafka_settings(args.bootstrap, f"bench{uuid.uuid4().hex[:8]}.")  # super user on the local SASL broker
    await ensure_topics(kafka, [topics.PREDICTIONS])
    with tempfile.TemporaryDirectory() as state:
        settings = MonitorSettings(kafka=kafka, data_dir=Path(state), window_size=args.window)
        _, uri = ArtifactStore(settings.artifact_root).put_json("references", reference)
        # First run: learn the champion (kept in the champions table's changelog), then stop. The second
        # run recovers it and meets the whole prediction backlog at once: a sustained-consumption measure.
        async with running(settings) as monitor:
            registry = KafkaPublisher(kafka, source="registry")
            await registry.start()
            await registry.publish(ev.ModelPromoted(model_name=MODEL, version=1, reference_uri=uri), MODEL)
            await registry.stop()
            await until(lambda: monitor.champions.get(MODEL) is not None, "the champion", 120)
        await produce(args, kafka, data, names)
        async with running(settings) as monitor:
            counter = monitor.metrics.predictions_consumed.labels(MODEL)
            await until(lambda: counter._value.get() > 0, "the first batch", 120)
            began, already = time.perf_counter(), counter._value.get()  # timed from the first batch on
            await until(lambda: counter._value.get() >= args.kafka_predictions, "the backlog", 900,
                        lambda: f"{counter._value.get():.0f} of {args.kafka_predictions} consumed")
            monitor_seconds = (time.perf_counter() - began) * args.kafka_predictions / (
                args.kafka_predictions - already)
            windows = sum(s.value for m in monitor.metrics.windows_evaluated.collect() for s in m.samples
                          if s.name.endswith("_total"))
        raw_seconds = await raw_consume(kafka)
    n = args.kafka_predictions
    print(f"throughput over {n} predictions in batches of {args.batch}, window {args.window}:")
    print(f"  raw aiokafka consume:   {n / raw_seconds:10.0f} predictions/s ({raw_seconds:.2f} s, fetch only)")
    print(f"  monitor consume+judge:  {n / monitor_seconds:10.0f} predictions/s ({monitor_seconds:.2f} s, "
          f"{windows:.0f} windows evaluated, changelog write per batch)")


def window_of(rows: np.ndarray) -> Window:
    return Window(version=1, rows=rows.tolist(), outputs=["0"] * len(rows), attributes=[{}] * len(rows))


def detection(args: argparse.Namespace, data: np.ndarray, reference: dict) -> None:
    parsed = parse_reference(reference, "bench")
    evaluator = Evaluator()
    confirmation = DriftConfirmation(args.confirm)
    shifts = {
        "sensor (x1.6 + std)": lambda r: r * 1.6 + data.std(axis=0),
        "subtle (+0.25 std, 10 of 30 features)": lambda r: r + np.where(np.arange(30) < 10, 0.25 * data.std(axis=0), 0),
    }
    for name, shift in shifts.items():
        flagged, alarmed = [], []
        for trial in range(args.shifts):
            rng = np.random.default_rng(100 + trial)
            offset = int(rng.integers(1, args.window))  # the shift starts mid-window
            first_flag = first_alarm = None
            run = 0
            for k in range(1, 50):
                rows = data[rng.integers(0, len(data), args.window)]
                shifted = shift(rows)
                if k == 1:
                    shifted[:offset] = rows[:offset]
                drifted = evaluator.drift(parsed, "bench", window_of(shifted)).dataset_drifted
                run = confirmation.step(run, drifted)
                first_flag = first_flag or (k if drifted else None)
                if confirmation.alarms(run):
                    first_alarm = k
                    break
            flagged.append(first_flag)
            alarmed.append(first_alarm)
        for what, delays in (("first drifted window", flagged), (f"alarm ({args.confirm} in a row)", alarmed)):
            found = [d for d in delays if d is not None]
            print(f"detection delay, {name}, {what}: windows from the shift (1 = the window it began in): "
                  f"median {np.median(found) if found else 'n/a'}, max {max(found) if found else 'n/a'}, "
                  f"missed {delays.count(None)} of {len(delays)} within 49 windows")


def false_alarms(args: argparse.Namespace, data: np.ndarray, reference: dict) -> None:
    parsed = parse_reference(reference, "bench")
    evaluator = Evaluator()
    confirmation = DriftConfirmation(args.confirm)
    rng = np.random.default_rng(7)
    windows = args.undrifted // args.window
    alarms = drifted = column = multivariate = share_rule = run = 0
    began = time.perf_counter()
    for _ in range(windows):
        result = evaluator.drift(parsed, "bench", window_of(data[rng.integers(0, len(data), args.window)]))
        run = confirmation.step(run, result.dataset_drifted)
        alarms += confirmation.alarms(run)
        drifted += result.dataset_drifted
        column += len(result.drifted_features)
        multivariate += bool(result.multivariate and result.multivariate.drifted)
        share_rule += result.drift_share >= result.share_threshold
    seconds = time.perf_counter() - began
    print(f"false alarms over {windows * args.window} undrifted predictions ({windows} windows, "
          f"{windows * args.window / seconds:.0f} predictions/s evaluated in-process):")
    print(f"  dataset-level alarms ({args.confirm} drifted windows in a row): {alarms}")
    print(f"  drifted windows: {drifted} (share rule: {share_rule}, PCA reconstruction: {multivariate}); "
          f"drifted columns in all: {column} of {windows * 30}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--kafka-predictions", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--undrifted", type=int, default=1_000_000)
    parser.add_argument("--shifts", type=int, default=20)
    parser.add_argument("--confirm", type=int, default=MonitorSettings().drift_confirm_windows,
                        help="drifted windows in a row before an alarm (the service's drift_confirm_windows)")
    parser.add_argument("--stages", default="detection,false-alarms,throughput",
                        help="comma-separated subset of detection, false-alarms, throughput")
    args = parser.parse_args()
    stages = set(args.stages.split(","))
    data, names, reference = demo_data()
    if "detection" in stages:
        detection(args, data, reference)
    if "false-alarms" in stages:
        false_alarms(args, data, reference)
    if "throughput" in stages:
        await throughput(args, data, names, reference)  # last: it needs the broker


if __name__ == "__main__":
    asyncio.run(main())
