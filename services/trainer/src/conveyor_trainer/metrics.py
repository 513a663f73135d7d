"""Prometheus instruments of the trainer (registered once, in the default registry)."""

from prometheus_client import Counter, Histogram

TRAINING_SECONDS_NAME = "conveyor_trainer_training_seconds"
RUNS_NAME = "conveyor_trainer_runs"

TRAINING_SECONDS = Histogram(
    TRAINING_SECONDS_NAME,
    "Wall time of one training run, from loading the data to storing the artifacts",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
RUNS = Counter(RUNS_NAME, "Training runs by outcome: 'trained' or the stage that failed", ["outcome"])
