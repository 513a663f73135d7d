"""Prometheus metrics of the trainer, on a registry the app owns (no global state at import)."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

TRAINING_SECONDS_NAME = "conveyor_trainer_training_seconds"
RUNS_NAME = "conveyor_trainer_runs"


@dataclass(frozen=True)
class TrainerMetrics:
    runs: Counter  # label `outcome`: "trained" or the stage that failed
    training_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "TrainerMetrics":
        return cls(
            runs=Counter(RUNS_NAME, "Training runs by outcome: 'trained' or the stage that failed", ["outcome"],
                         registry=registry),
            training_seconds=Histogram(
                TRAINING_SECONDS_NAME,
                "Wall time of one training run, from loading the data to storing the artifacts",
                buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
                registry=registry,
            ),
        )
