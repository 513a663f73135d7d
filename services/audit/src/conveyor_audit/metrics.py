"""Prometheus metrics of the audit ledger (registered once, on first import of this module)."""

from prometheus_client import Counter, Gauge

ENTRIES_APPENDED_NAME = "conveyor_audit_entries_appended"
DUPLICATES_SKIPPED_NAME = "conveyor_audit_duplicates_skipped"
DEAD_LETTERED_NAME = "conveyor_audit_dead_lettered"
LEDGER_SIZE_NAME = "conveyor_audit_ledger_size"

ENTRIES_APPENDED = Counter(ENTRIES_APPENDED_NAME, "Events appended to the ledger")
DUPLICATES_SKIPPED = Counter(DUPLICATES_SKIPPED_NAME, "Redelivered events (known ce_id) not stored again")
DEAD_LETTERED = Counter(DEAD_LETTERED_NAME, "Undecodable records sent to the dead-letter topic")
LEDGER_SIZE = Gauge(LEDGER_SIZE_NAME, "Entries in the ledger")
