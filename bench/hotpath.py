"""The hot path at agent speed: single-row decisions through serving, the broker and the monitor, all on this
machine's cores at once. Not a test: it asserts nothing, it prints.

Starts `conveyor serving` (Kafka on, no models) and the monitor (`python -m conveyor_monitor`) as processes on
a fresh topic prefix, promotes a breast-cancer logistic regression through Kafka (serving loads it from the
artifact store, the monitor learns its reference), then offers --rate single-row requests per second for
--seconds with the open-loop generator of serving_load.py (each latency counted from the moment its request
was due). Prints: answered, achieved rate, p50/p99; the share of answered decisions logged to Kafka (the
PredictionsLogged rows on the topic) and evaluated by the monitor (its predictions-consumed counter); the
lag (answered minus evaluated, sampled every 2 s) and how long the monitor took to drain it after the load
stopped; each process's CPU; and, where the rate was not reached, where the time went: py-spy samples of
every process for --profile-seconds mid-run, the functions with the most samples.

Usage: .venv/bin/python bench/hotpath.py [--rate 5000] [--seconds 60] [--workers 2] [--kafka 127.0.0.1:9092]
"""

import argparse
import asyncio
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_load import build_open_loop, open_loop  # noqa: E402
from serving_servers import ROOT, VENV_BIN, build_models, free_port  # noqa: E402

from conveyor.events.v1 import events_pb2 as ev  # noqa: E402
from conveyor_cli.kafka_accounts import kafka_settings  # noqa: E402
from conveyor_kernel import Envelope, FileStore, KafkaSettings, decode_event, topics  # noqa: E402
from conveyor_kernel.kafka import KafkaPublisher, ensure_topics  # noqa: E402

MODEL = "lr"


def reference(names: list[str], data: np.ndarray) -> dict:
    return {"feature_names": names, "kinds": {n: "numeric" for n in names},
            "columns": {n: data[:, i].tolist() for i, n in enumerate(names)},
            "predictions": ["0", "1"] * (len(data) // 2), "task": "classification", "class_labels": ["0", "1"]}


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def metric(url: str, name: str) -> float:
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return float("nan")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def wait_for(check, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def tree(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [p for c in children for p in tree(int(c))]


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def logged_rows(kafka: KafkaSettings) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**kafka.client_options(), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        topic = kafka.topic(topics.PREDICTIONS)
        partitions = [TopicPartition(topic, 0)]  # the kernel creates one partition per topic
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)  # not seek_to_beginning: position() after it answered the end offset here
        rows = 0
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                for records in (await consumer.getmany(tp, timeout_ms=1000, max_records=1000)).values():
                    for record in records:
                        batch = decode_event(Envelope.from_headers(list(record.headers)), record.value)
                        rows += batch.columns.rows or len(batch.predictions)
        return rows
    finally:
        await consumer.stop()


async def promote(kafka: KafkaSettings, uri: str, reference_uri: str, names: list[str]) -> None:
    await ensure_topics(kafka, [ev.ModelPromoted, ev.PredictionsLogged, ev.ModelDeployed])
    publisher = KafkaPublisher(kafka, source="registry")
    await publisher.start()
    await publisher.publish(ev.ModelPromoted(model_name=MODEL, version=1, artifact_uri=uri, reference_uri=reference_uri,
                                             feature_names=names, task=ev.TASK_CLASSIFICATION, action="promote"),
                            subject=MODEL)
    await publisher.stop()


def profile(pids: dict[str, int], seconds: int, workdir: Path) -> dict[str, list[tuple[str, int]]]:
    """py-spy samples of each process (and its children) for `seconds`: the leaf functions with most samples."""
    spy = VENV_BIN / "py-spy"
    runs = {}
    for name, pid in pids.items():
        out = workdir / f"profile-{name.replace(' ', '_')}.txt"
        runs[name] = (out, subprocess.Popen([str(spy), "record", "--pid", str(pid), "--subprocesses", "--duration",
                                             str(seconds), "--rate", "50", "--format", "raw", "--nonblocking",
                                             "--output", str(out)], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
    tops = {}
    for name, (out, process) in runs.items():
        process.wait(timeout=seconds + 60)
        leaves: collections.Counter[str] = collections.Counter()
        if out.exists():
            for line in out.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if stack and count.isdigit():
                    leaves[re.sub(r"\s+", " ", stack.split(";")[-1])] += int(count)
        total = sum(leaves.values()) or 1
        tops[name] = [(leaf, round(100 * n / total)) for leaf, n in leaves.most_common(8)]
    return tops


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--profile-seconds", type=int, default=10)
    args = parser.parse_args()
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer()
    names = [f"f{i}" for i in range(cancer.data.shape[1])]
    prefix = f"hot{uuid.uuid4().hex[:8]}."
    kafka = kafka_settings(args.kafka, prefix)  # the super user on the local SASL broker
    with tempfile.TemporaryDirectory(prefix="bench-hotpath-") as tmp:
        workdir = Path(tmp)
        bodies = build_models(workdir)
        generator = build_open_loop(workdir)
        store = FileStore(workdir / "data" / "artifacts")
        _, uri = store.put("models", (workdir / "repo" / MODEL / "1" / "model.onnx").read_bytes(), ".onnx")
        _, reference_uri = store.put_json("references", reference(names, cancer.data))
        (workdir / "empty").mkdir()
        common = {"CONVEYOR_DATA_DIR": str(workdir / "data"), **kafka.as_env()}
        serving_port, monitor_port = free_port(), free_port()
        serving = start([str(VENV_BIN / "conveyor"), "serving", "--model-repository", str(workdir / "empty"),
                         "--port", str(serving_port), "--grpc-port", str(free_port()), "--workers", str(args.workers),
                         "--kafka", args.kafka], common, workdir / "serving.log")
        monitor = start([str(VENV_BIN / "python"), "-m", "conveyor_monitor"],
                        {**common, "CONVEYOR_PORT": str(monitor_port)}, workdir / "monitor.log")
        serving_url, monitor_url = f"http://127.0.0.1:{serving_port}", f"http://127.0.0.1:{monitor_port}"
        try:
            run(args, kafka, workdir, bodies[MODEL], generator, serving, monitor, serving_url, monitor_url, uri,
                reference_uri, names)
        finally:
            stop(serving)
            stop(monitor)


def ready(url: str, path: str) -> bool:
    try:
        return httpx.get(f"{url}{path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def run(args, kafka, workdir, body, generator, serving, monitor, serving_url, monitor_url, uri, reference_uri,
        names) -> None:
    wait_for(lambda: ready(serving_url, "/v2/health/ready"), "serving to be ready")
    wait_for(lambda: ready(monitor_url, "/readyz"), "the monitor to be ready")
    asyncio.run(promote(kafka, uri, reference_uri, names))
    wait_for(lambda: ready(serving_url, f"/v2/models/{MODEL}/ready"), "serving to deploy the model")
    open_loop(generator, f"{serving_url}/v2/models/{MODEL}/infer", body, 500, 2)  # warm-up, counted below too
    wait_for(lambda: metric(monitor_url, "conveyor_monitor_predictions_consumed_total") > 0,
             "the monitor to evaluate its first predictions", 120)
    wait_for(lambda: metric(monitor_url, "conveyor_monitor_predictions_consumed_total")
             >= metric(serving_url, "conveyor_serving_request_seconds_count"), "the monitor to catch up", 120)
    broker = int(subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True).stdout.split()[0])
    answered_before = metric(serving_url, "conveyor_serving_request_seconds_count")
    consumed_before = metric(monitor_url, "conveyor_monitor_predictions_consumed_total")
    processes = {"serving": tree(serving.pid), "monitor": tree(monitor.pid), "broker": [broker]}
    cpu_before = {name: cpu_seconds(pids) for name, pids in processes.items()}
    machine_before = machine_busy()
    lags: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        began = time.monotonic()
        while not done.wait(2.0):
            answered = metric(serving_url, "conveyor_serving_request_seconds_count") - answered_before
            consumed = metric(monitor_url, "conveyor_monitor_predictions_consumed_total") - consumed_before
            lags.append((time.monotonic() - began, answered - consumed))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    profiles: dict = {}
    profiler = threading.Timer(max(args.seconds / 2 - args.profile_seconds / 2, 1), lambda: profiles.update(
        profile({"serving": serving.pid, "monitor": monitor.pid}, args.profile_seconds, workdir)))
    profiler.start()
    began = time.monotonic()
    result = open_loop(generator, f"{serving_url}/v2/models/{MODEL}/infer", body, args.rate, args.seconds)
    load_seconds = time.monotonic() - began
    done.set()
    profiler.join()
    cpu = {name: cpu_seconds(pids) - cpu_before[name] for name, pids in processes.items()}
    busy, total = (after - before for after, before in zip(machine_busy(), machine_before, strict=True))
    cpu["everything else on the machine (generator, other work)"] = busy - sum(cpu.values())
    answered = metric(serving_url, "conveyor_serving_request_seconds_count") - answered_before
    consumed_at_end = metric(monitor_url, "conveyor_monitor_predictions_consumed_total") - consumed_before
    drain_began = time.monotonic()
    wait_until = drain_began + 120
    while metric(monitor_url, "conveyor_monitor_predictions_consumed_total") - consumed_before < answered and \
            time.monotonic() < wait_until:
        time.sleep(0.5)
    drained = time.monotonic() - drain_began
    consumed = metric(monitor_url, "conveyor_monitor_predictions_consumed_total") - consumed_before
    time.sleep(1.0)  # the last log flush (0.5 s) is on the topic
    logged = asyncio.run(logged_rows(kafka))
    warmup = answered_before  # the warm-up's rows are on the topic too
    dropped = metric(serving_url, "conveyor_serving_prediction_log_dropped_total")
    report(args, result, load_seconds, answered, logged - warmup, dropped, consumed, consumed_at_end, drained, lags,
           cpu, profiles)


def report(args, result, load_seconds, answered, logged, dropped, consumed, consumed_at_end, drained, lags, cpu,
           profiles) -> None:
    ok = result["sent"] - result["errors"]
    achieved = ok / load_seconds
    print(f"\nhot path: {args.rate:.0f} single-row decisions/s offered for {args.seconds:.0f} s; serving "
          f"({args.workers} workers), the Kafka broker, the monitor and the load generator share "
          f"{os.cpu_count()} cores")
    print(f"  answered:   {ok} of {result['sent']} ({result['errors']} errors) in {load_seconds:.0f} s (the generator "
          f"holds at most 64 requests in flight, so a server that falls behind stretches the run); achieved "
          f"{achieved:.0f}/s "
          f"({achieved / args.rate:.0%} of offered); p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
          f"max {result['max_ms']:.0f} ms")
    print(f"  logged:     {logged:.0f} rows on Kafka = {logged / max(answered, 1):.1%} of {answered:.0f} answered "
          f"(dropped by serving: {dropped:.0f})")
    print(f"  evaluated:  {consumed:.0f} by the monitor = {consumed / max(logged, 1):.1%} of logged "
          f"({consumed_at_end:.0f} when the load stopped; the rest drained in {drained:.1f} s)")
    worst = max((lag for _, lag in lags), default=float("nan"))
    series = ", ".join(f"{lag:.0f}" for _, lag in lags[:: max(len(lags) // 10, 1)])
    print(f"  lag:        answered minus evaluated, every 2 s: max {worst:.0f} rows; {series}")
    monitor_rate = consumed_at_end / load_seconds
    print(f"  monitor:    evaluated {monitor_rate:.0f}/s while serving answered {achieved:.0f}/s: "
          f"ratio {monitor_rate / max(achieved, 1):.2f} (goal >= 1.0)")
    total = sum(cpu.values())
    print("  CPU:        " + ", ".join(f"{name} {seconds:.1f} s ({seconds / load_seconds:.0%} of a core)"
                                       for name, seconds in cpu.items())
          + f"; the machine was {total / load_seconds / (os.cpu_count() or 1):.0%} busy; "
          f"{cpu['serving'] / max(ok, 1) * 1e6:.0f} us of serving CPU per decision")
    met = achieved >= 0.99 * args.rate and logged >= answered * 0.999 and consumed >= logged * 0.999
    print(f"  goal ({args.rate:.0f}/s, all logged, all evaluated): {'met' if met else 'NOT met'}")
    if not met:
        for name, top in profiles.items():
            print(f"  where {name}'s time went (py-spy, {args.profile_seconds} s mid-run, leaf functions by samples):")
            for leaf, share in top:
                print(f"    {share:3d}%  {leaf}")


if __name__ == "__main__":
    main()
