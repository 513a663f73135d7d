"""Prometheus metrics of the ingest service, on a registry the app owns (no global state at import)."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

DATASETS_ACCEPTED = "conveyor_ingest_datasets_accepted"
DATASETS_REJECTED = "conveyor_ingest_datasets_rejected"
DATASETS_DUPLICATE = "conveyor_ingest_datasets_duplicate"


@dataclass(frozen=True)
class IngestMetrics:
    accepted: Counter
    rejected: Counter  # label `reason`: too_large or invalid
    duplicate: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "IngestMetrics":
        return cls(
            accepted=Counter(DATASETS_ACCEPTED, "Datasets stored and announced", registry=registry),
            rejected=Counter(DATASETS_REJECTED, "Uploads rejected", ["reason"], registry=registry),
            duplicate=Counter(DATASETS_DUPLICATE, "Re-uploads of a dataset already stored", registry=registry),
        )
