"""Training overhead: the platform's run against a plain scikit-learn fit of the same pipeline, same table.

The table is the one issue 11 names: 50,000 rows, 20 feature columns (15 numeric, 5 text categories), with
gaps (5% of the cells of every feature column), a yes/no label and a sensitive attribute. In one invocation:
  - platform: the trainer's `train()` as a DatasetArrived runs it: read the CSV, coerce the columns, split,
    fit, evaluate on the holdout, fairness per group, ONNX export of the whole pipeline, parity on the
    holdout plus unseen categories and gaps, the drift reference, both artifacts stored;
  - baseline: what a data scientist would run: the CSV read with pandas, then `fit` of the very same
    pipeline (the trainer's recipe) on the very same training rows; and, printed beside it, `fit` alone.
Median of --runs runs each, interleaved so a noisy neighbour hurts both alike. The ratio the issue asks
for (goal <= 1.5x) is platform / (read + fit). Not a test: it prints and asserts nothing.
Usage: .venv/bin/python bench/training.py [--runs 3] [--rows 50000] [--estimators logistic_regression,...]
"""

import argparse
import io
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore
from conveyor_trainer.columns import columns_of
from conveyor_trainer.composition import compose
from conveyor_trainer.dataset import class_array, load_table
from conveyor_trainer.recipe import build_pipeline, resolve_spec
from conveyor_trainer.settings import TrainerSettings
from conveyor_trainer.training import RunRequest, Trigger, train

NUMERIC, TEXT = 15, 5
GAPS = 0.05
PARAMS = {"random_forest": {"n_estimators": "50"}, "gradient_boosting": {}, "logistic_regression": {}}


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    """Numbers of several scales, text categories of 4 to 12 values, a label that depends on both."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"n{i:02d}": rng.normal(i, 1 + i, rows) for i in range(NUMERIC)})
    logit = 0.4 * (frame["n00"] - 0) - 0.2 * (frame["n03"] - 3) / 4
    for j in range(TEXT):
        names = np.array([f"group {j}-{k}" for k in range(4 + 2 * j)])
        picked = rng.integers(0, len(names), rows)
        frame[f"t{j}"] = names[picked]
        logit += np.where(picked % 2 == 0, 0.3, -0.3)
    frame["label"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame["region"] = rng.choice(["north", "south", "east"], rows)
    for column in [c for c in frame.columns if c[0] in "nt"]:
        frame.loc[rng.random(rows) < GAPS, column] = np.nan
    return frame


def dataset(store: ArtifactStore, frame: pd.DataFrame, estimator: str) -> ev.DatasetArrived:
    dataset_id, uri = store.put("datasets", frame.to_csv(index=False).encode(), ".csv")
    features = [ev.Feature(name=c, kind=ev.COLUMN_KIND_NUMERIC, dtype="float64") for c in frame if c[0] == "n"]
    features += [ev.Feature(name=c, kind=ev.COLUMN_KIND_CATEGORICAL, dtype="string") for c in frame if c[0] == "t"]
    return ev.DatasetArrived(
        dataset_id=dataset_id, name="bench", uri=uri, row_count=len(frame), target="label", features=features,
        sensitive_attributes=["region"], task=ev.TASK_CLASSIFICATION, source_format="csv", version=1,
        provenance=ev.DatasetProvenance(kind="upload"),
        training=ev.TrainingSpec(model_name="bench", estimator=estimator, params=PARAMS.get(estimator, {}),
                                 holdout_fraction=0.25, seed=1),
    )


def platform_run(event: ev.DatasetArrived, store: ArtifactStore, settings: TrainerSettings) -> float:
    started = time.perf_counter()
    train(RunRequest(event, Trigger.DATASET_ARRIVED, run_id="bench"), store, settings)
    return time.perf_counter() - started


def plain_fit(event: ev.DatasetArrived, store: ArtifactStore) -> tuple[float, float]:
    """(read + fit, fit alone) of the trainer's own pipeline on the trainer's own training rows."""
    spec = resolve_spec(event.training, event.task, event.name)
    columns = columns_of(list(event.features))
    rows = compose(event, (), lambda d: load_table(store, d, columns), spec.holdout_fraction, int(spec.seed), True)
    x, y = rows.train.x, class_array(rows.train.y)
    started = time.perf_counter()
    pd.read_csv(io.BytesIO(store.get(event.uri)))  # the data scientist reads the same file once
    read = time.perf_counter() - started
    pipeline = build_pipeline(spec, event.task, columns)
    started = time.perf_counter()
    pipeline.fit(x, y)
    fit = time.perf_counter() - started
    return read + fit, fit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--estimators", default="logistic_regression,gradient_boosting")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    frame = table(args.rows)
    print(f"table: {len(frame)} rows, {NUMERIC} numeric + {TEXT} text feature columns, "
          f"{int(frame.filter(regex='^[nt]').isna().sum().sum())} gaps, label yes/no, sensitive attribute region")
    with tempfile.TemporaryDirectory() as root:
        settings = TrainerSettings(data_dir=Path(root))
        store = settings.artifacts()
        for estimator in args.estimators.split(","):
            event = dataset(store, frame, estimator)
            platform, baseline, fit_only = [], [], []
            for _ in range(args.runs):
                platform.append(platform_run(event, store, settings))
                read_fit, fit = plain_fit(event, store)
                baseline.append(read_fit)
                fit_only.append(fit)
            p, b, f = (statistics.median(v) for v in (platform, baseline, fit_only))
            print(f"\n{estimator} (median of {args.runs}):")
            print(f"  platform run (read, split, fit, evaluate, fairness, ONNX, parity, reference)  {p:6.2f} s")
            print(f"  plain scikit-learn: read the CSV + fit the same pipeline                       {b:6.2f} s")
            print(f"  plain scikit-learn: fit alone                                                  {f:6.2f} s")
            print(f"  ratio platform / (read + fit) {p / b:.2f}x  (goal <= 1.5x);  platform / fit alone {p / f:.2f}x")


if __name__ == "__main__":
    main()
