"""Prometheus metrics of the registry (default registry, served at /metrics)."""

from prometheus_client import Counter

VERSIONS_REGISTERED_NAME = "conveyor_registry_versions_registered"
PROMOTIONS_NAME = "conveyor_registry_promotions"

VERSIONS_REGISTERED = Counter(VERSIONS_REGISTERED_NAME, "Model versions registered", ["model"])
PROMOTIONS = Counter(
    PROMOTIONS_NAME, "Champion decisions by action (promote, manual_promote, rollback, decline)", ["action"]
)
