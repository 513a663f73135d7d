"""Registry settings: where the database lives and how strict the promotion policy is."""

from functools import lru_cache

from pydantic import Field

from conveyor_kernel import ServiceSettings


class RegistrySettings(ServiceSettings):
    port: int = 8003
    database_url: str = Field(
        default="",
        description="any SQLAlchemy URL; empty means sqlite:///<data_dir>/registry/registry.db",
    )
    metric_tolerance: float = Field(
        default=0.01, ge=0, description="how much worse than the champion a candidate may be and still win"
    )
    max_fairness_gap: float = Field(
        default=0.2, ge=0, le=1, description="largest absolute parity / equalized-odds gap a promotion allows"
    )

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in this service's state dir (created on demand)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir('registry') / 'registry.db'}"


@lru_cache
def get_settings() -> RegistrySettings:
    return RegistrySettings()
