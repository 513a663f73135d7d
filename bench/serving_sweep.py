"""Where does open-loop p99 break? One server at a time, alone on core 0, at fractions of its own wrk peak.

bench/serving.py keeps every server up at once and interleaves them, which is fair for throughput ratios.
This script asks a narrower question: at which load does a server's p99 leave 5 ms, and are the slow
requests queueing (they pile up once load nears capacity) or stalls (short bursts of slow requests at any
load, from whatever else runs on the machine)? It prints, per load, p50/p99 and the stall episodes: slow
(> 4 ms) requests released within 20 ms of one another count as one episode. Not a test: it asserts nothing.

The client (wrk, the open-loop generator) and the broker share core 1, as in bench/serving.py's split
layout. Only the Kafka server needs the broker: stop it and sweep the others to see what an idle broker on
the client's core costs.

It also prints the server's CPU time per request (the process and its children, from /proc). With
`--rates` every server gets the same fixed load, so Kafka logging's price shows as CPU per request: what
bounds throughput once the server's core is the bottleneck, without wrk's peak, which on two cores also
moves with how much of the client's core the broker takes.

Usage: .venv/bin/python bench/serving_sweep.py [--model rf|lr] [--servers conveyor,nokafka,reference]
                                               [--fractions 0.5,0.7,0.8,0.9 | --rates 1200] [--seconds 8]
"""

import argparse
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import CLIENT_CPUS, SERVER_CPUS, broker_on  # noqa: E402
from serving_load import build_open_loop, open_loop, server_cpu_seconds, wrk_peak  # noqa: E402
from serving_servers import build_models, conveyor, free_port, reference  # noqa: E402

SLOW_MS = 4.0
EPISODE_GAP_MS = 20.0


def stall_episodes(trace: Path) -> tuple[int, int]:
    """(slow requests, episodes): slow requests released within EPISODE_GAP_MS of each other are one."""
    released = sorted(float(line.split()[0]) for line in trace.read_text().splitlines()
                      if float(line.split()[1]) > SLOW_MS)
    episodes = sum(1 for i, t in enumerate(released) if i == 0 or t - released[i - 1] >= EPISODE_GAP_MS)
    return len(released), episodes


def start(name: str, stack: ExitStack, workdir: Path, port: int, kafka: str) -> None:
    if name == "conveyor":
        stack.enter_context(conveyor(workdir, port, 1, kafka, f"sweep{uuid.uuid4().hex[:8]}.", SERVER_CPUS))
    elif name == "nokafka":
        stack.enter_context(conveyor(workdir, port, 1, None, "sweep.", SERVER_CPUS))
    elif name == "reference":
        stack.enter_context(reference(workdir, port, 1, SERVER_CPUS))
    else:
        raise SystemExit(f"unknown server {name!r}: conveyor, nokafka or reference")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("rf", "lr"), default="rf")
    parser.add_argument("--servers", default="conveyor,nokafka,reference")
    parser.add_argument("--fractions", default="0.5,0.7,0.8,0.9")
    parser.add_argument("--rates", help="fixed req/s for every server instead of fractions of each one's peak: "
                        "the same load on each, so their CPU per request compares (what logging costs)")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    with broker_on(CLIENT_CPUS), tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        workdir = Path(tmp)
        bodies = build_models(workdir)
        binary = build_open_loop(workdir)
        body = bodies[args.model]
        for name in args.servers.split(","):
            with ExitStack() as stack:  # one server up at a time: nothing else idles on its core
                port = free_port()
                start(name, stack, workdir, port, args.kafka)
                url = f"http://127.0.0.1:{port}/v2/models/{args.model}/infer"
                wrk_peak(url, body, 2, 32, cpus=CLIENT_CPUS)  # warm-up
                peaks = [wrk_peak(url, body, 6, 32, cpus=CLIENT_CPUS).rps for _ in range(2)]
                print(f"{name} {args.model}: wrk peaks {', '.join(f'{p:.0f}' for p in peaks)} req/s", flush=True)
                rates = [float(r) for r in args.rates.split(",")] if args.rates else [f * max(peaks) for f in fractions]
                for rate in rates:
                    trace = workdir / "trace.txt"
                    cpu_before = server_cpu_seconds(port)
                    result = open_loop(binary, url, body, rate, args.seconds, cpus=CLIENT_CPUS, trace=trace)
                    cpu = (server_cpu_seconds(port) - cpu_before) / result["sent"] * 1e6
                    slow, episodes = stall_episodes(trace)
                    share = rate / max(peaks)
                    print(f"  {share:4.0%} of the best peak, {rate:5.0f} req/s: p50 {result['p50_ms']:7.2f} "
                          f"ms, p99 {result['p99_ms']:8.2f} ms; {slow} requests over {SLOW_MS:.0f} ms in {episodes} "
                          f"episodes; server CPU {cpu:4.0f} us/request; errors {result['errors']}", flush=True)


if __name__ == "__main__":
    main()
