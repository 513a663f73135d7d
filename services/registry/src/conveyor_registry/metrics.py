"""Prometheus metrics of the registry, on a registry the app owns (no global state at import)."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

VERSIONS_REGISTERED_NAME = "conveyor_registry_versions_registered"
PROMOTIONS_NAME = "conveyor_registry_promotions"


@dataclass(frozen=True)
class RegistryMetrics:
    versions_registered: Counter  # label `model`
    promotions: Counter  # label `action`: a tables.Action

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "RegistryMetrics":
        return cls(
            versions_registered=Counter(VERSIONS_REGISTERED_NAME, "Model versions registered", ["model"],
                                        registry=registry),
            promotions=Counter(
                PROMOTIONS_NAME, "Champion decisions by action (promote, manual_promote, rollback, decline)",
                ["action"], registry=registry,
            ),
        )
