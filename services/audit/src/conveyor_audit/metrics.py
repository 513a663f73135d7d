"""Prometheus metrics of the audit ledger, on a registry the app owns (no global state at import)."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

ENTRIES_APPENDED = "conveyor_audit_entries_appended"
DUPLICATES_SKIPPED = "conveyor_audit_duplicates_skipped"
DEAD_LETTERED = "conveyor_audit_dead_lettered"
LEDGER_SIZE = "conveyor_audit_ledger_size"


@dataclass(frozen=True)
class AuditMetrics:
    entries_appended: Counter
    duplicates_skipped: Counter
    dead_lettered: Counter
    ledger_size: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "AuditMetrics":
        return cls(
            entries_appended=Counter(ENTRIES_APPENDED, "Events appended to the ledger", registry=registry),
            duplicates_skipped=Counter(DUPLICATES_SKIPPED, "Redelivered events (known ce_id) not stored again",
                                       registry=registry),
            dead_lettered=Counter(DEAD_LETTERED, "Undecodable records sent to the dead-letter topic",
                                  registry=registry),
            ledger_size=Gauge(LEDGER_SIZE, "Entries in the ledger", registry=registry),
        )
