"""The lifecycle loop on this machine, in one run: what issue 11 asks to measure, printed beside its goals.

1. data arrival → serving: the upload request of a 50,000-row table with 20 feature columns (15 numeric, 5
   text categories) and gaps (bench/training.py's table) until its model serves (ModelDeployed). Goal ≤ 5 s.
2. drift → a retrained version that learned from the new labels → serving: the demo's story (tools/cli
   demo.py: the fair survey, a shifted population, its labels posted by a service account), from the
   drifted traffic's first request until the retrained version serves, phase by phase, with the retrain's
   and the champion's score on the same fresh rows (the proof it learned).
3. training overhead: the platform's training run against a plain scikit-learn fit of the same pipeline on
   the same table, per estimator (bench/training.py's measurement, reused). Goal ≤ 1.5×.
One platform of its own (own ports and topic prefix, so a running demo is not disturbed) serves every run.
Not a test: it asserts nothing. Usage: .venv/bin/python bench/loop.py [--runs 3] [--window 300]
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from sklearn.exceptions import ConvergenceWarning

from conveyor.events.v1 import events_pb2 as ev
from conveyor_cli import scenario
from conveyor_cli.demo import run_scenario
from conveyor_cli.narrator import Narrator
from conveyor_cli.platform import SERVICES, Platform
from conveyor_kernel import KafkaSettings
from conveyor_kernel.identity import DATA_SCIENTIST, Kind
from conveyor_trainer.settings import TrainerSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
import training  # noqa: E402 - bench/training.py: the table and the overhead measurement, reused

ARRIVAL_GOAL, OVERHEAD_GOAL = 5.0, 1.5


def wide_spec(model: str) -> dict[str, Any]:
    """The spec a data scientist would write for bench/training.py's table (gaps: the default imputers)."""
    return {
        "name": model, "target": "label", "task": "classification",
        "features": [{"name": f"n{i:02d}", "kind": "numeric"} for i in range(training.NUMERIC)]
        + [{"name": f"t{j}", "kind": "categorical"} for j in range(training.TEXT)],
        "sensitive_attributes": ["region"], "consent_basis": "public_task", "owner": "bench@conveyor.example",
        "training": {"model_name": model, "seed": 1, "primary_metric": "roc_auc"},
    }


async def arrival(urls: dict[str, str], kafka: KafkaSettings, token: str, model: str, seed: int,
                  rows: int) -> dict[str, float]:
    """Seconds from the upload request until the table's model serves, with the steps between."""
    body = training.table(rows, seed=seed).to_csv(index=False).encode()  # the file exists before it is sent
    client = scenario.Client(urls, token)
    narrator = Narrator(kafka, lambda *a: None)
    await narrator.start()
    try:
        started = time.monotonic()
        await client.upload_csv(body, wide_spec(model), f"{model}.csv")
        answered = time.monotonic() - started

        async def when(event_cls: type, **fields: object) -> float:
            at, _ = await scenario.wait_for(event_cls.DESCRIPTOR.name, lambda: _found(
                narrator.first_event(event_cls, **fields)), 120)
            return at - (started - narrator.started)

        return {"upload answered": answered, "dataset arrived": await when(ev.DatasetArrived, name=model),
                "trained": await when(ev.ModelTrained, model_name=model),
                "promoted": await when(ev.ModelPromoted, model_name=model),
                "serving": await when(ev.ModelDeployed, model_name=model)}
    finally:
        await narrator.stop()
        await client.close()


async def _found(value: object) -> object:
    return value


def loop_phases(report: Any) -> dict[str, float]:
    p = report.phases
    return {
        "drifted traffic sent": p["shifted traffic sent"] - p["predictions served"],
        "→ drift detected": p["drift detected"] - p["predictions served"],
        "→ labels arriving (retrain deferred)": p["labels arriving"] - p["predictions served"],
        "→ feedback collected (last label in)": p["feedback collected"] - p["predictions served"],
        "→ retrained": p["retrained"] - p["predictions served"],
        "→ retrained version serving": p["new version deployed"] - p["predictions served"],
        "drift detected → retrained version serving": p["new version deployed"] - p["drift detected"],
        "last label in → retrained version serving": p["new version deployed"] - p["feedback collected"],
    }


def learned(report: Any) -> str:
    comparison, metric = report.retrained.comparison, report.retrained.training.primary_metric
    champion, retrained = comparison.champion_metrics[metric], comparison.challenger_metrics[metric]
    return (f"{report.labels_posted} labels; on {comparison.description}: {metric} of the champion "
            f"{champion:.3f}, of the retrained version {retrained:.3f}")


def overhead(estimators: list[str], rows: int, runs: int) -> dict[str, tuple[float, float, float]]:
    """(platform, read + fit, fit) medians per estimator, bench/training.py's way (runs interleaved)."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    frame = training.table(rows)
    found = {}
    with tempfile.TemporaryDirectory() as root:
        settings = TrainerSettings(data_dir=Path(root))
        store = settings.artifacts()
        for estimator in estimators:
            event = training.dataset(store, frame, estimator)
            platform, baseline, fit_only = [], [], []
            for _ in range(runs):
                platform.append(training.platform_run(event, store, settings))
                read_fit, fit = training.plain_fit(event, store)
                baseline.append(read_fit)
                fit_only.append(fit)
            found[estimator] = tuple(statistics.median(v) for v in (platform, baseline, fit_only))
    return found


def median_table(title: str, results: list[dict[str, float]]) -> None:
    print(f"\n{title}")
    for phase in results[0]:
        values = [r[phase] for r in results]
        print(f"  {phase:<46} {statistics.median(values):6.2f} s   (min {min(values):.2f}, max {max(values):.2f})")


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--confirm", type=int, default=2, help="the monitor's drift_confirm_windows")
    parser.add_argument("--estimators", default="logistic_regression,random_forest,gradient_boosting")
    parser.add_argument("--port-offset", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at the start (1, 5, 15 min): {_load()} on {os.cpu_count()} cores")
    bootstrap = os.environ.get("CONVEYOR_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    arrivals, loops = [], []
    with tempfile.TemporaryDirectory() as state:
        platform = Platform(Path(state), port_offset=args.port_offset, env={
            "CONVEYOR_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "CONVEYOR_KAFKA__TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:8]}.",
            "CONVEYOR_WINDOW_SIZE": str(args.window),
            "CONVEYOR_DRIFT_CONFIRM_WINDOWS": str(args.confirm),
        })
        platform.start(timeout=120)
        try:
            urls = {s: platform.url(s) for s in SERVICES}
            token = platform.issuer.mint("bench", DATA_SCIENTIST)
            label_feed = platform.issuer.mint("bench-label-feed", kind=Kind.SERVICE)
            for run in range(args.runs):
                arrivals.append(asyncio.run(arrival(urls, platform.kafka_settings(), token, f"wide-{run + 1}",
                                                    seed=run, rows=args.rows)))
                report = asyncio.run(run_scenario(urls, platform.kafka_settings(), window=args.window, quiet=True,
                                                  confirm=args.confirm, token=token, label_token=label_feed))
                loops.append(loop_phases(report))
                print(f"run {run + 1}: data arrival → serving {arrivals[-1]['serving']:.2f} s; drift detected → "
                      f"retrained serving {loops[-1]['drift detected → retrained version serving']:.2f} s; "
                      f"{learned(report)}")
        finally:
            platform.stop()
    median_table(f"1. data arrival → serving: {args.rows:,} rows × {training.NUMERIC + training.TEXT} feature "
                 f"columns ({training.TEXT} text), {training.GAPS:.0%} gaps per column, logistic regression; "
                 f"seconds since the upload request was sent (median of {args.runs})", arrivals)
    median_table(f"2. drift → retrained on the new labels → serving: the demo's story (fair survey, window "
                 f"{args.window}); seconds since the shifted traffic's first request, median of {args.runs}", loops)
    print(f"\n3. training overhead, {args.rows:,} rows (bench/training.py's table), median of {args.runs}:")
    for estimator, (run, read_fit, fit) in overhead(args.estimators.split(","), args.rows, args.runs).items():
        print(f"  {estimator:<20} platform {run:6.2f} s, read + fit {read_fit:6.2f} s, fit {fit:6.2f} s: "
              f"{run / read_fit:.2f}x (goal ≤ {OVERHEAD_GOAL}x), {run / fit:.2f}x of the fit alone")
    print(f"\n  load average at the end (1, 5, 15 min): {_load()}")
    served = statistics.median(r["serving"] for r in arrivals)
    relearned = statistics.median(r["drift detected → retrained version serving"] for r in loops)
    print(f"\n  data arrival → serving {served:.2f} s (goal ≤ {ARRIVAL_GOAL:.0f} s: "
          f"{'met' if served <= ARRIVAL_GOAL else 'NOT met'}); drift detected → retrained version serving "
          f"{relearned:.2f} s")


if __name__ == "__main__":
    main()
