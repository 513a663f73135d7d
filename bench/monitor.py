"""Monitor throughput, detection delay and false alarms on this machine. Not a test: it asserts nothing, it prints.

1. Throughput, every figure from the same run:
   a. serving's peak: `conveyor serving` (--serving-workers, Kafka prediction logging on) under wrk -t2 -c32,
      best of --serving-rounds rounds after a warm-up, bench/serving.py's method (its "shared" layout: nothing
      pinned); or the rate given as --serving-peak N;
   b. produces N predictions (PredictionsLogged of the demo's 30 breast-cancer features, in serving's columnar
      form and batch size by default: --form columns --batch 500) to a fresh topic prefix;
   c. the monitor in process: Monitor.on_predictions over the same serialized batches (decode, window,
      evaluation, label store), state in dicts, the in-memory bus: everything but faust and Kafka;
   d. the monitor through Kafka: the real service (faust agents, kernel dispatch, faust table changelog,
      windows, label store) started in-process, timed until its predictions-consumed counter reaches N;
   e. the raw aiokafka consume rate of that topic (fetch only, no decoding);
   and prints the ratios monitor(Kafka) / serving peak (the issue's goal: >= 1.0) and monitor(Kafka) /
   monitor(in process).
2. Detection delay: windows from a shift (starting mid-window) until a window is flagged as drifted and
   until the service's confirmation rule (conveyor_monitor.confirm.DriftConfirmation) raises the alarm,
   for the demo's sensor shift and for a subtle one (+0.25 std on a third of the features).
3. False alarms: dataset-level alarms over M undrifted predictions (rows resampled from the data the
   reference came from), through the same Evaluator and DriftConfirmation the service runs; drifted windows
   (by the share rule and by PCA) and drifted columns are counted too.

Usage: .venv/bin/python bench/monitor.py [--kafka-predictions 50000] [--batch 500] [--form columns|rows]
                                         [--window 200] [--serving-peak auto|N] [--serving-workers 2]
                                         [--undrifted 1000000] [--shifts 20] [--confirm 2]
                                         [--stages detection,false-alarms,throughput]
"""

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from sklearn.datasets import load_breast_cancer

from conveyor.events.v1 import events_pb2 as ev
from conveyor_cli.kafka_accounts import kafka_settings
from conveyor_kernel import Envelope, EventRuntime, KafkaSettings, topics
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics
from conveyor_kernel.memory import InMemoryBus
from conveyor_monitor.confirm import DriftConfirmation
from conveyor_monitor.evaluation import Evaluator
from conveyor_monitor.handlers import Monitor
from conveyor_monitor.history import EvaluationHistory
from conveyor_monitor.metrics import MonitorMetrics
from conveyor_monitor.reference import parse_reference
from conveyor_monitor.settings import MonitorSettings
from conveyor_monitor.window import Window
from conveyor_monitor.wiring import PUBLISHES, build_monitor, create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def batch(rows: np.ndarray, names: list[str], start: int, form: str = "columns") -> ev.PredictionsLogged:
    """One logged batch: one request per row (single-row decisions), as serving logs them."""
    n = len(rows)
    if form == "rows":
        return ev.PredictionsLogged(
            model_name=MODEL, version=1, feature_names=names, class_labels=["0", "1"],
            predictions=[ev.Prediction(request_id=f"q{start + i}", row=0, features=r.tolist(), label=str(i % 2),
                                       probabilities=[0.5, 0.5], timestamp_ms=start + i,
                                       attributes={"clinic": "north" if i % 2 else "south"})
                         for i, r in enumerate(rows)],
        )
    columns = ev.PredictionColumns(
        rows=n, request_ids=[f"q{start + i}" for i in range(n)], request_rows=[0] * n,
        timestamps_ms=list(range(start, start + n)), labels=[str(i % 2) for i in range(n)],
        attributes={"clinic": ev.AttributeColumn(values=["north" if i % 2 else "south" for i in range(n)])},
    )
    columns.features.extend(rows.astype(np.float64).ravel().tolist())
    columns.probabilities.extend([0.5] * (2 * n))
    return ev.PredictionsLogged(model_name=MODEL, version=1, feature_names=names, class_labels=["0", "1"],
                                columns=columns)


@contextmanager
def handler_times() -> Iterator[list[float]]:
    """From the first PredictionsLogged the handler takes to the end of the last one: the consumption time.

    Polling a counter from another coroutine does not time it: faust's agent takes queued records without
    yielding to the event loop, so a poller wakes only once the backlog is gone.
    """
    times: list[float] = []
    consume = Monitor.on_predictions

    async def timed(self: Monitor, event: ev.PredictionsLogged, envelope: Envelope) -> None:
        if not times:
            times.append(time.perf_counter())
        await consume(self, event, envelope)
        times[1:] = [time.perf_counter()]

    Monitor.on_predictions = timed  # type: ignore[method-assign]
    try:
        yield times
    finally:
        Monitor.on_predictions = consume  # type: ignore[method-assign]


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


def batches(args: argparse.Namespace, data: np.ndarray, names: list[str]) -> list[ev.PredictionsLogged]:
    rng = np.random.default_rng(1)
    return [batch(data[rng.integers(0, len(data), args.batch)], names, start, args.form)
            for start in range(0, args.kafka_predictions, args.batch)]


async def produce(kafka: KafkaSettings, logged: list[ev.PredictionsLogged]) -> None:
    publisher = KafkaPublisher(kafka, source="bench")
    await publisher.start()
    for one in logged:
        await publisher.publish(one, MODEL)
    await publisher.stop()


async def in_process(args: argparse.Namespace, logged: list[ev.PredictionsLogged], reference: dict) -> float:
    """Seconds for Monitor.on_predictions over the same serialized batches: no faust, no Kafka."""
    with tempfile.TemporaryDirectory() as state:
        settings = MonitorSettings(data_dir=Path(state), window_size=args.window)
        publisher = EventRuntime(settings, source="monitor", publishes=PUBLISHES, transport=InMemoryBus()).publisher
        monitor = build_monitor(settings, publisher, {}, EvaluationHistory(100),
                                MonitorMetrics.create(CollectorRegistry()), {})
        _, uri = monitor.store.put_json("references", reference)
        await monitor.on_promoted(ev.ModelPromoted(model_name=MODEL, version=1, reference_uri=uri),
                                  Envelope("conveyor.events.v1.ModelPromoted", "registry", MODEL))
        wire = [one.SerializeToString() for one in logged]
        began = time.perf_counter()
        for value in wire:
            await monitor.on_predictions(ev.PredictionsLogged.FromString(value),
                                         Envelope("conveyor.events.v1.PredictionsLogged", "serving", MODEL))
        seconds = time.perf_counter() - began
        monitor.labels.close()
        return seconds


def serving_peak(args: argparse.Namespace) -> tuple[float, str]:
    """Serving's peak in this run (bench/serving.py's method), or the rate stated on the command line."""
    if args.serving_peak != "auto":
        return float(args.serving_peak), "stated with --serving-peak"
    from serving_load import wrk_peak
    from serving_servers import build_models, conveyor, free_port

    with tempfile.TemporaryDirectory() as workdir:
        bodies = build_models(Path(workdir))
        port = free_port()
        prefix = f"benchserving{uuid.uuid4().hex[:8]}."
        with conveyor(Path(workdir), port, args.serving_workers, args.bootstrap, prefix):
            url = f"http://127.0.0.1:{port}/v2/models/{args.serving_model}/infer"
            wrk_peak(url, bodies[args.serving_model], 2, 32)  # warm-up: every worker, every connection
            peaks = [wrk_peak(url, bodies[args.serving_model], args.serving_seconds, 32).rps
                     for _ in range(args.serving_rounds)]
    return max(peaks), (f"conveyor serving, {args.serving_workers} workers, Kafka logging on, model "
                        f"{args.serving_model}, wrk -t2 -c32 {args.serving_seconds} s, best of "
                        f"{', '.join(f'{p:.0f}' for p in peaks)} req/s")


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
    n = args.kafka_predictions
    print(f"throughput over {n} predictions in {args.form} batches of {args.batch}, window {args.window}:", flush=True)
    serving, how = serving_peak(args)  # first: it wants both cores to itself
    print(f"  serving peak:              {serving:10.0f} predictions/s ({how})", flush=True)
    logged = batches(args, data, names)
    process_seconds = await in_process(args, logged, reference)
    process_rate = n / process_seconds
    print(f"  monitor in process:        {process_rate:10.0f} predictions/s ({process_seconds:.2f} s, "
          f"Monitor.on_predictions, dict state, in-memory bus)", flush=True)
    kafka = kafka_settings(args.bootstrap, f"bench{uuid.uuid4().hex[:8]}.")  # super user on the local SASL broker
    await ensure_topics(kafka, [topics.PREDICTIONS])
    with tempfile.TemporaryDirectory() as state:
        settings = MonitorSettings(kafka=kafka, data_dir=Path(state), window_size=args.window)
        _, uri = settings.artifacts().put_json("references", reference)
        # First run: learn the champion (kept in the champions table's changelog), then stop. The second
        # run recovers it and meets the whole prediction backlog at once: a sustained-consumption measure.
        async with running(settings) as monitor:
            registry = KafkaPublisher(kafka, source="registry")
            await registry.start()
            await registry.publish(ev.ModelPromoted(model_name=MODEL, version=1, reference_uri=uri), MODEL)
            await registry.stop()
            await until(lambda: monitor.champions.get(MODEL) is not None, "the champion", 120)
        await produce(kafka, logged)
        with handler_times() as times:
            async with running(settings) as monitor:
                counter = monitor.metrics.predictions_consumed.labels(MODEL)
                await until(lambda: counter._value.get() >= args.kafka_predictions, "the backlog", 300,
                            lambda: f"{counter._value.get():.0f} of {args.kafka_predictions} consumed")
                windows = sum(s.value for m in monitor.metrics.windows_evaluated.collect() for s in m.samples
                              if s.name.endswith("_total"))
        monitor_seconds = times[-1] - times[0]
        raw_seconds = await raw_consume(kafka)
    kafka_rate = n / monitor_seconds
    print(f"  raw aiokafka consume:      {n / raw_seconds:10.0f} predictions/s ({raw_seconds:.2f} s, fetch only)")
    print(f"  monitor through Kafka:     {kafka_rate:10.0f} predictions/s ({monitor_seconds:.2f} s, "
          f"{windows:.0f} windows evaluated, faust + changelog write per batch + label store)")
    print(f"  ratio Kafka / serving peak: {kafka_rate / serving:.2f} (goal >= 1.0)")
    print(f"  ratio Kafka / in process:   {kafka_rate / process_rate:.2f}")


def window_of(rows: np.ndarray, names: list[str]) -> Window:
    return Window(version=1, rows=len(rows), inputs={n: rows[:, i].tolist() for i, n in enumerate(names)},
                  outputs=["0"] * len(rows))


def detection(args: argparse.Namespace, data: np.ndarray, reference: dict) -> None:
    names = reference["feature_names"]
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
                drifted = evaluator.drift(parsed, "bench", window_of(shifted, names)).dataset_drifted
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
    names = reference["feature_names"]
    parsed = parse_reference(reference, "bench")
    evaluator = Evaluator()
    confirmation = DriftConfirmation(args.confirm)
    rng = np.random.default_rng(7)
    windows = args.undrifted // args.window
    alarms = drifted = column = multivariate = share_rule = run = 0
    began = time.perf_counter()
    for _ in range(windows):
        rows = data[rng.integers(0, len(data), args.window)]
        result = evaluator.drift(parsed, "bench", window_of(rows, names))
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
    parser.add_argument("--batch", type=int, default=500, help="rows per PredictionsLogged (serving's default: 500)")
    parser.add_argument("--form", choices=("columns", "rows"), default="columns",
                        help="columns: serving's PredictionColumns; rows: one Prediction message per row")
    parser.add_argument("--serving-peak", default="auto", help="'auto': measure conveyor serving with wrk now; "
                        "or a rate in predictions/s to compare with")
    parser.add_argument("--serving-workers", type=int, default=2)
    parser.add_argument("--serving-model", choices=("lr", "rf"), default="lr", help="lr: the faster, the higher peak")
    parser.add_argument("--serving-seconds", type=int, default=10)
    parser.add_argument("--serving-rounds", type=int, default=2)
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
