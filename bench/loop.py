"""Phase timings of the lifecycle loop on this machine: data arrival → serving, drift → retrained serving.

Starts its own platform (separate ports and topic prefix, so a running demo is not disturbed), runs the
scenario N times on fresh prefixes, and prints the median of each phase. Not a test: it asserts nothing.
Usage: .venv/bin/python bench/loop.py [--runs 3] [--window 300]
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import uuid
from pathlib import Path

from conveyor_cli.demo import run_scenario
from conveyor_cli.platform import SERVICES, Platform
from conveyor_kernel import DATA_SCIENTIST


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--confirm", type=int, default=2, help="the monitor's drift_confirm_windows")
    args = parser.parse_args()
    bootstrap = os.environ.get("CONVEYOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    results: list[dict[str, float]] = []
    for run in range(args.runs):
        prefix = f"bench{uuid.uuid4().hex[:8]}."
        with tempfile.TemporaryDirectory() as state:
            platform = Platform(Path(state), port_offset=200, env={
                "CONVEYOR_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
                "CONVEYOR_KAFKA__TOPIC_PREFIX": prefix,
                "CONVEYOR_WINDOW_SIZE": str(args.window),
                "CONVEYOR_DRIFT_CONFIRM_WINDOWS": str(args.confirm),
            })
            platform.start(timeout=120)
            try:
                urls = {s: platform.url(s) for s in SERVICES}
                token = platform.issuer.mint("bench", DATA_SCIENTIST)
                report = asyncio.run(run_scenario(urls, platform.kafka_settings(), window=args.window, quiet=True,
                                                  confirm=args.confirm, token=token))
            finally:
                platform.stop()
        phases = report.phases
        results.append({
            "upload request → upload answered": phases["uploaded"],
            "upload answered → trained": phases["trained"] - phases["uploaded"],
            "trained → promoted": phases["promoted"] - phases["trained"],
            "promoted → deployed": phases["deployed"] - phases["promoted"],
            "data arrival → serving": phases["deployed"],  # from the moment the upload request is sent
            "drifted traffic → drift detected": phases["drift detected"] - phases["drifted traffic sent"],
            "drift detected → new version serving": phases["new version deployed"] - phases["drift detected"],
        })
        print(f"run {run + 1}: data arrival → serving {results[-1]['data arrival → serving']:.2f} s")
    print(f"\nmedian of {args.runs} runs (breast_cancer, logistic regression, window {args.window}):")
    for phase in results[0]:
        values = [r[phase] for r in results]
        print(f"  {phase:<40} {statistics.median(values):6.2f} s   (min {min(values):.2f}, max {max(values):.2f})")
    arrival = statistics.median(r["data arrival → serving"] for r in results)
    print(f"\n  target data arrival → serving ≤ 5 s: measured {arrival:.2f} s ({arrival / 5.0:.2f} of the budget)")


if __name__ == "__main__":
    main()
