"""bench/serving.py's protocol rows and logging's CPU price.

Protocols: the same Conveyor server (validation, prediction logging to Kafka, tracing configured) answers one
model over JSON REST (wrk), binary REST (wrk, Triton's binary extension in and out) and gRPC (raw contents,
the Go client of serving_grpc_load.py), for single rows and 1,000-row batches; rounds interleave the three
so the machine's noise spreads over all of them; the best round per protocol is kept.

Logging's price: CPU time of the server's processes per request (/proc ticks over a fixed open-loop load),
with Kafka logging and without, in pairs run back to back; the pairs' ratios, their median and spread.
"""

import statistics
from pathlib import Path

from serving_grpc_load import grpc_peak
from serving_load import open_loop, server_cpu_seconds, wrk_peak
from serving_servers import BATCH_ROWS, MODELS, PROTOCOLS


def measure_protocols(http: str, grpc_target: str, files: dict, seconds: int, rounds: int, connections: int,
                      grpc_binary: Path, client: str | None) -> dict:
    results: dict = {}
    for model in MODELS:
        for rows in BATCH_ROWS:
            url = f"{http}/v2/models/{model}/infer"
            for _ in range(rounds):
                for protocol in PROTOCOLS:
                    body = files[(model, protocol, rows)]
                    if protocol == "grpc":
                        peak = grpc_peak(grpc_binary, grpc_target, body, seconds, connections=2, concurrency=16,
                                         cpus=client)
                    else:
                        peak = wrk_peak(url, body, seconds, connections if rows == 1 else 8, cpus=client)
                    key = (model, rows, protocol)
                    if key not in results or peak.rps > results[key]["rps"]:
                        results[key] = {"rps": peak.rps, "errors": peak.errors}
                    print(f"  {protocol:<7} {model} {rows:>4} row(s): {peak.rps:8.0f} req/s "
                          f"({peak.rps * rows:,.0f} rows/s)", flush=True)
    return results


def protocol_table(results: dict) -> str:
    lines = ["", "| model | rows/request | JSON REST req/s | binary REST req/s | gRPC req/s | binary / JSON "
                 "| gRPC / JSON | target | errors |", "|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for model in MODELS:
        for rows in BATCH_ROWS:
            r = {p: results[(model, rows, p)] for p in PROTOCOLS}
            target = ">= 1.5 both" if rows > 1 else "gRPC >= 0.8"
            errors = sum(v["errors"] for v in r.values())
            lines.append(f"| {model} | {rows} | {r['json']['rps']:.0f} | {r['binary']['rps']:.0f} | "
                         f"{r['grpc']['rps']:.0f} | {r['binary']['rps'] / r['json']['rps']:.2f} | "
                         f"{r['grpc']['rps'] / r['json']['rps']:.2f} | {target} | {errors} |")
    return "\n".join(lines)


def cpu_pairs(binary: Path, ports: dict[str, int], body: Path, model: str, rate: float, seconds: float, pairs: int,
              client: str | None) -> list[tuple[float, float]]:
    """(with logging, without) CPU microseconds per request, one pair per round, the order alternating."""
    names = ("conveyor", "conveyor (no Kafka)")
    out = []
    for i in range(pairs):
        cost = {}
        for name in (names if i % 2 == 0 else names[::-1]):
            port = ports[name]
            before = server_cpu_seconds(port)
            latency = open_loop(binary, f"http://127.0.0.1:{port}/v2/models/{model}/infer", body, rate, seconds,
                                cpus=client)
            answered = latency["sent"] - latency["errors"]
            cost[name] = (server_cpu_seconds(port) - before) / max(answered, 1) * 1e6
        out.append((cost[names[0]], cost[names[1]]))
        print(f"  pair {i + 1}: {cost[names[0]]:.0f} us with logging, {cost[names[1]]:.0f} us without: "
              f"{cost[names[0]] / cost[names[1]] - 1:+.1%}", flush=True)
    return out


def pairs_table(pairs: list[tuple[float, float]], model: str, rate: float) -> str:
    extra = sorted(on / off - 1 for on, off in pairs)
    quartiles = statistics.quantiles(extra, n=4) if len(extra) >= 2 else [extra[0]] * 3
    return "\n".join([
        "", f"Prediction logging's CPU per request ({model}, {rate:.0f} req/s open loop, {len(pairs)} pairs):",
        "| pairs | median extra CPU | quartiles | min .. max | median us with / without | target |",
        "|---:|---:|---|---|---|---|",
        f"| {len(pairs)} | {statistics.median(extra):+.1%} | {quartiles[0]:+.1%} .. {quartiles[2]:+.1%} | "
        f"{extra[0]:+.1%} .. {extra[-1]:+.1%} | {statistics.median(p[0] for p in pairs):.0f} / "
        f"{statistics.median(p[1] for p in pairs):.0f} | <= +10% |",
    ])
