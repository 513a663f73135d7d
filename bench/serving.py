"""Serving benchmark: Conveyor vs a bare FastAPI+ONNX Runtime app vs MLServer 1.7.1 (sklearn runtime).

Builds RF(100) and logistic regression on breast_cancer, then starts each server in turn on this machine,
measures peak throughput with wrk (closed loop) and p50/p99 with an open-loop generator at a fixed rate
(80% and 40% of Conveyor's peak for Conveyor and the reference; of its own peak for MLServer), and prints one
table with the ratios the issue sets as targets. Not a test: it asserts nothing. Needs wrk, Go, and
MLServer in .cache/mlserver-venv (see docs/serving.md).
Layouts (--layout):
- split (default): every server on core 0; wrk, the open-loop generator and the Kafka broker on core 1, for
  the run only. The client's CPU then never competes with the server it measures (the usual rule for load
  testing: never share a server's cores with its load generator), and the broker sits where it would be in
  production: off the serving machine, so its CPU is not charged to serving. One worker per server.
- shared: nothing pinned, --workers per server (default 2): client, broker and servers fight for both cores.

Then (serving_protocols.py) the same Conveyor server over JSON REST, binary REST and gRPC, for single rows
and 1,000-row batches, and prediction logging's CPU per request in --cpu-pairs paired runs.

Usage: .venv/bin/python bench/serving.py [--layout split|shared] [--seconds 10] [--workers N] [--connections 32]
                                         [--skip-mlserver] [--cpu-pairs 6] [--cpu-rate 1500]
                                         [--phases peak,protocols,cpu]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_grpc_load import build_grpc_load  # noqa: E402
from serving_load import build_open_loop, open_loop, wrk_peak  # noqa: E402
from serving_protocols import cpu_pairs, measure_protocols, pairs_table, protocol_table  # noqa: E402
from serving_servers import (  # noqa: E402
    MODELS,
    build_models,
    conveyor,
    free_port,
    mlserver,
    protocol_bodies,
    reference,
)

SERVER_CPUS, CLIENT_CPUS = "0", "1"  # the split layout
LOAD_FRACTION = 0.8
LOW_FRACTION = 0.4  # where the open-loop generator and the server together still fit on the cores


def _measure(urls: dict, bodies: dict, args, binary: Path, client: str | None) -> dict:
    """Every server is up (idle) at once; wrk runs interleaved in rounds, best round kept per server.

    Interleaving spreads the machine's noise (other tenants on the same cores) over every server instead of
    whichever one happened to run during a burst.
    """
    results: dict = {}
    for model in MODELS:
        for base in urls.values():  # warm-up: every worker, every connection
            wrk_peak(f"{base}/v2/models/{model}/infer", bodies[model], 2, args.connections, cpus=client)
        for _ in range(args.rounds):
            for name, base in urls.items():
                peak = wrk_peak(f"{base}/v2/models/{model}/infer", bodies[model], args.seconds, args.connections,
                                cpus=client)
                best = results.get((name, model))
                if best is None or peak.rps > best["rps"]:
                    results[(name, model)] = {"rps": peak.rps, "wrk_errors": peak.errors}
                print(f"  {name:<22} {model}: {peak.rps:8.0f} req/s", flush=True)
        for fraction, key in ((LOAD_FRACTION, ""), (LOW_FRACTION, "low_")):
            target = fraction * results[("conveyor", model)]["rps"]
            for name, base in urls.items():
                rate = fraction * results[(name, model)]["rps"] if name == "mlserver" else target
                latency = open_loop(binary, f"{base}/v2/models/{model}/infer", bodies[model], rate, args.seconds,
                                    cpus=client)
                results[(name, model)].update({f"{key}rate": rate, **{f"{key}{k}": v for k, v in latency.items()}})
                print(f"  {name:<22} {model}: p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms "
                      f"at {rate:.0f} req/s", flush=True)
    return results


def _table(results: dict) -> str:
    results = dict(sorted(results.items(), key=lambda item: item[0][1], reverse=True))  # rf rows, then lr
    lines = ["| server | model | peak req/s (wrk) | open loop at 80%: rate | p50 ms | p99 ms "
             "| open loop at 40%: rate | p50 ms | p99 ms | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (name, model), r in results.items():
        lines.append(f"| {name} | {model} | {r['rps']:.0f} | {r['rate']:.0f} | {r['p50_ms']:.2f} | "
                     f"{r['p99_ms']:.2f} | {r['low_rate']:.0f} | {r['low_p50_ms']:.2f} | {r['low_p99_ms']:.2f} | "
                     f"{r['wrk_errors'] + r['errors'] + r['low_errors']} |")
    return "\n".join(lines)


def _ratios(results: dict) -> str:
    def rps(name, model):
        return results[(name, model)]["rps"] if (name, model) in results else float("nan")

    lines = ["", "| ratio | rf | lr | target |", "|---|---:|---:|---|"]
    rows = [
        ("Conveyor / MLServer", "conveyor", "mlserver", ">= 20x rf, >= 4x lr"),
        ("Conveyor / bare reference", "conveyor", "reference", ">= 1.5"),
        ("Conveyor logging on / off", "conveyor", "conveyor (no Kafka)", ">= 0.90"),
    ]
    for label, a, b, target in rows:
        lines.append(f"| {label} | " + " | ".join(f"{rps(a, m) / rps(b, m):.2f}" for m in MODELS) + f" | {target} |")
    p99 = " | ".join(f"{results[('conveyor', m)]['p99_ms']:.2f} ms" for m in MODELS)
    lines.append(f"| Conveyor p99 at {LOAD_FRACTION:.0%} of its peak (open loop) | {p99} | <= 5 ms |")
    low = " | ".join(f"{results[('conveyor', m)]['low_p99_ms']:.2f} ms" for m in MODELS)
    lines.append(f"| Conveyor p99 at {LOW_FRACTION:.0%} of its peak (open loop) | {low} | |")
    for fraction, key in ((LOAD_FRACTION, ""), (LOW_FRACTION, "low_")):
        same = " | ".join(f"{results[('conveyor', m)][key + 'p99_ms'] / results[('reference', m)][key + 'p99_ms']:.2f}"
                          for m in MODELS)
        lines.append(f"| Conveyor p99 / reference p99, same rate ({fraction:.0%} of Conveyor's peak) | {same} "
                     "| <= 1.2 |")
    return "\n".join(lines)


@contextmanager
def broker_on(cpus: str | None) -> Iterator[None]:
    """Confine the running Kafka broker (every JVM thread) to `cpus` for the run, then give it every core back."""
    found = subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True).stdout.split()
    if cpus is None or not found:
        yield
        return
    for pid in found:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, pid], check=True, capture_output=True)
    try:
        yield
    finally:
        every = f"0-{os.cpu_count() - 1}"
        for pid in found:
            subprocess.run(["taskset", "-a", "-p", "-c", every, pid], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--layout", choices=("split", "shared"), default="split")
    parser.add_argument("--workers", type=int, help="worker processes per server (default: 1 split, 2 shared)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved wrk rounds; the best is kept")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--skip-mlserver", action="store_true")
    parser.add_argument("--phases", default="peak,protocols,cpu", help="which parts to run, comma-separated")
    parser.add_argument("--cpu-pairs", type=int, default=6, help="paired runs pricing prediction logging")
    parser.add_argument("--cpu-rate", type=float, default=1500, help="open-loop req/s of those runs")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    split = args.layout == "split"
    workers = args.workers or (1 if split else 2)
    server, client = (SERVER_CPUS, CLIENT_CPUS) if split else (None, None)
    print(f"layout {args.layout}: servers on cpus {server or 'any'} with {workers} worker(s) each, "
          f"client and broker on cpus {client or 'any'}", flush=True)
    with broker_on(client), tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp, ExitStack() as servers:
        workdir = Path(tmp)
        bodies = build_models(workdir)
        binary = build_open_loop(workdir)
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        ports = {name: free_port() for name in ("conveyor", "conveyor (no Kafka)", "reference", "mlserver")}
        grpc_port = free_port()
        files = protocol_bodies(workdir)
        grpc_binary = build_grpc_load()
        print("starting servers", flush=True)
        servers.enter_context(conveyor(workdir, ports["conveyor"], workers, args.kafka, prefix, server, grpc_port))
        servers.enter_context(conveyor(workdir, ports["conveyor (no Kafka)"], workers, None, prefix, server))
        servers.enter_context(reference(workdir, ports["reference"], workers, server))
        if args.skip_mlserver:
            del ports["mlserver"]
        else:
            servers.enter_context(mlserver(workdir, ports["mlserver"], server))
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        results = protocols = pairs = None
        if "peak" in phases:
            print("measuring:", flush=True)
            results = _measure(urls, bodies, args, binary, client)
        if "protocols" in phases:
            print("protocols (conveyor with Kafka logging):", flush=True)
            protocols = measure_protocols(urls["conveyor"], f"127.0.0.1:{grpc_port}", files, args.seconds,
                                          args.rounds, args.connections, grpc_binary, client)
        if "cpu" in phases:
            print("prediction logging's CPU per request:", flush=True)
            pairs = cpu_pairs(binary, ports, bodies["lr"], "lr", args.cpu_rate, args.seconds, args.cpu_pairs, client)
    print()
    if results:
        print(_table(results))
        print(_ratios(results))
    if protocols:
        print(protocol_table(protocols))
    if pairs:
        print(pairs_table(pairs, "lr", args.cpu_rate))


if __name__ == "__main__":
    main()
