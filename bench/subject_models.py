"""The question "which model versions were trained on subject S?" at scale. Not a test: it asserts nothing, it prints.

Fills the trainer's consent state (SQLite) with R runs of S subjects each (default 200 × 5,000 = 1,000,000
run-subject rows, 1,000 versions' worth of subjects overlapping), registers each run's version, then times
the question (runs_of + versions_of, what GET /subjects/{ref}/models asks the store) for 1,000 random
subjects, beside a baseline in the same run: one primary-key read of a subject's consent record.

Usage: .venv/bin/python bench/subject_models.py [--runs 200] [--subjects 5000]
"""

import argparse
import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

from conveyor_trainer.adapters.consent_state import ConsentState

logger = logging.getLogger("bench.subject_models")


def timed(call, samples: list[str]) -> list[float]:
    times = []
    for ref in samples:
        began = time.perf_counter()
        call(ref)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--subjects", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    state = ConsentState(Path(tempfile.mkdtemp(prefix="bench-subjects-")) / "consent.db")
    rng = random.Random(3)
    population = [f"subj-{n:032x}" for n in range(args.subjects * 4)]
    began = time.perf_counter()
    for run in range(args.runs):
        state.record_run(f"run-{run}", rng.sample(population, args.subjects))
        state.registered(f"run-{run}", f"model-{run % 20}", run // 20 + 1)
    logger.info("%d run-subject rows in %.1f s", args.runs * args.subjects, time.perf_counter() - began)
    samples = rng.sample(population, 1000)

    def question(ref: str) -> dict[str, int]:
        return state.versions_of(state.runs_of(ref))

    def baseline(ref: str) -> object:
        return state.runs_of("subj-absent")  # one index probe, nothing found: the floor of any lookup

    for name, call in (("baseline (one empty index probe)", baseline), ("which versions learned from S", question)):
        times = sorted(timed(call, samples))
        logger.info("%s: median %.2f ms, p99 %.2f ms, max %.2f ms", name, statistics.median(times) * 1e3,
                    times[int(len(times) * 0.99)] * 1e3, times[-1] * 1e3)
    found = statistics.mean(len(state.runs_of(ref)) for ref in samples[:100])
    logger.info("each subject was in %.0f runs on average (goal: the answer in under a second)", found)


if __name__ == "__main__":
    main()
