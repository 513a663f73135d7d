"""Monthly report generation time at scale. Not a test: it asserts nothing, it prints.

Builds a ledger of N entries (default 1,000,000) on SQLite in a temp dir: a month holding M models' lifecycle
(trainings, registrations, promotions, declines, rollbacks, deployments, drift, fairness and performance
alerts, consent flags: about 60 entries per model) and the rest consent records, as uploads give one per
subject; a signed checkpoint before the month and one after. Then, in the same run:
  baseline: one read of the month's entries out of the ledger (what any report must at least do), and
  the report: `monthly_report` (assemble, cite, prove every cited entry, hash, sign), its HTML (--pdf: its PDF).
Prints each time and the report's ratio to the baseline.

Usage: .venv/bin/python bench/reports.py [--entries 1000000] [--models 100] [--keep DIR] [--pdf]
"""

import argparse
import logging
import random
import tempfile
import time
import uuid
from pathlib import Path

from conveyor.events.v1 import events_pb2 as ev
from conveyor_audit.adapters.ledger_db import Ledger
from conveyor_audit.adapters.rows import Pending, StoredCheckpoint
from conveyor_audit.keys import load_signer
from conveyor_audit.monthly import monthly_report
from conveyor_audit.note import Checkpoint
from conveyor_audit.report_data import month_bounds
from conveyor_audit.report_html import monthly_html
from conveyor_audit.report_pdf import render_pdf
from conveyor_audit.settings import AuditSettings
from conveyor_kernel import Envelope
from conveyor_kernel.topics import type_name

logger = logging.getLogger("bench.reports")
MONTH = "2026-10"
BATCH = 20_000


def model_story(name: str, rng: random.Random) -> list[tuple[object, str]]:
    """About 60 lifecycle events for one model over the month."""
    story: list[tuple[object, str]] = []
    champion = 0
    for version in range(1, 11):
        run = f"{name}-r{version}"
        story.append((ev.ModelTrained(model_name=name, run_id=run, dataset_id=f"d-{name}", metrics={"roc_auc": 0.8},
                                      training=ev.TrainingSpec(primary_metric="roc_auc"),
                                      fairness=[ev.FairnessGap(attribute="sex", demographic_parity_difference=0.05)],
                                      consent=ev.ConsentSnapshot(purpose="training", digest="ab" * 32, subjects=900)),
                      name))
        story.append((ev.ModelRegistered(model_name=name, version=version, run_id=run, dataset_id=f"d-{name}"), name))
        if version % 2:
            story.append((ev.ModelPromoted(model_name=name, version=version, previous_version=champion,
                                           approved_by="policy", action="promote", reasons=["roc_auc +0.01"]), name))
            champion = version
            story += [(ev.ModelDeployed(model_name=name, version=version, instance=f"s{i}"), name) for i in range(3)]
        else:
            story.append((ev.PromotionDeclined(model_name=name, version=version, champion_version=champion,
                                               reasons=["roc_auc -0.02"]), name))
    for _ in range(5):
        story.append((ev.DriftDetected(model_name=name, version=champion, drift_share=rng.random()), name))
        story.append((ev.FairnessDegraded(model_name=name, version=champion, attribute="sex",
                                          demographic_parity_difference=0.25, difference_threshold=0.2), name))
        story.append((ev.PerformanceDegraded(model_name=name, version=champion, metrics={"roc_auc": 0.7},
                                             baseline={"roc_auc": 0.8}, tolerance=0.05), name))
    story.append((ev.ModelPromoted(model_name=name, version=champion - 2, previous_version=champion,
                                   approved_by="carol", action="rollback", reasons=["by hand"]), name))
    return story


def build(ledger: Ledger, entries: int, models: int, signer, origin: str) -> None:
    rng = random.Random(7)
    start, end = month_bounds(MONTH)
    lifecycle = [item for m in range(models) for item in model_story(f"model-{m:03d}", rng)]
    consent = entries - len(lifecycle) - 1
    every = max(1, consent // max(1, len(lifecycle)))  # lifecycle events spread through the consent records
    seconds = 30 * 24 * 3600

    def events():
        yield ev.DatasetRejected(name="before", owner="x"), "before", "2026-09-30T12:00:00+00:00"
        life = iter(lifecycle)
        for n in range(consent + len(lifecycle)):
            at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(
                time.mktime(time.strptime(start, "%Y-%m-%dT%H:%M:%S")) + n * seconds // (consent + len(lifecycle))))
            item = next(life, None) if n % (every + 1) == 0 else None
            if item is not None:
                yield item[0], item[1], at
            else:
                yield (ev.ConsentChanged(record_id=str(uuid.UUID(int=n)), subject_ref=f"subj-{n:032x}",
                                         purpose="training", state=ev.CONSENT_STATE_GIVEN, basis="consent",
                                         source="dataset upload"), f"subj-{n:032x}", at)

    batch: list[Pending] = []
    offset = 0

    def flush() -> None:
        ledger.append_batch(batch, {})
        batch.clear()

    for event, subject, at in events():
        batch.append(Pending.of(Envelope(type=type_name(type(event)), source="bench", subject=subject, time=at),
                                event.SerializeToString(), "t", 0, offset))
        offset += 1
        if offset == 1:  # the checkpoint before the month
            flush()
            root = ledger.root_at(1)
            ledger.add_checkpoint(StoredCheckpoint(1, root, signer.sign(Checkpoint(origin, 1, root).body()),
                                                   "2026-09-30T13:00:00+00:00"))
        elif len(batch) >= BATCH:
            flush()
    flush()
    size = ledger.size
    root = ledger.root_at(size)
    ledger.add_checkpoint(StoredCheckpoint(size, root, signer.sign(Checkpoint(origin, size, root).body()),
                                           end.replace("T00:00:00", "T00:05:00") + "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--keep", type=Path, default=None, help="build the ledger here and keep it")
    parser.add_argument("--pdf", action="store_true", help="also time the PDF (WeasyPrint: minutes for 100 models)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # it narrates every page at INFO
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-reports-"))
    settings = AuditSettings(data_dir=root, read_only=True)
    signer = load_signer(settings)
    path = settings.state_dir("audit") / "ledger.db"
    fresh = not path.exists()
    ledger = Ledger(path)
    if fresh:
        began = time.perf_counter()
        build(ledger, args.entries, args.models, signer, settings.origin)
        logger.info("built a ledger of %d entries (%d models) in %.1f s", ledger.size, args.models,
                    time.perf_counter() - began)
    start, end = month_bounds(MONTH)

    began = time.perf_counter()
    read = ledger.between_types(start, end, (), include=False)
    baseline = time.perf_counter() - began
    logger.info("baseline: read the month's %d entries in %.2f s", len(read), baseline)
    del read

    began = time.perf_counter()
    report = monthly_report(ledger, MONTH, signer, settings.origin)
    generated = time.perf_counter() - began
    cited = len(report["evidence"]["entries"])
    logger.info("report: %d models, %d cited entries proven, generated in %.2f s (%.1fx the baseline)",
                len(report["models"]), cited, generated, generated / baseline)
    began = time.perf_counter()
    html = monthly_html(report)
    drawn = time.perf_counter() - began
    (root / f"report-{MONTH}.html").write_text(html)
    logger.info("html %.2f s (%d kB); generation and html %.2f s (goal < 60 s)", drawn, len(html) // 1024,
                generated + drawn)
    if args.pdf:
        began = time.perf_counter()
        pdf = render_pdf(html)
        logger.info("pdf %.1f s (%d kB, drawn once per report and kept)", time.perf_counter() - began,
                    len(pdf) // 1024)
    ledger.close()


if __name__ == "__main__":
    main()
