"""Registry settings: how strict the promotion policy is (the database: CONVEYOR_DATABASE_URL, the kernel's)."""

from functools import lru_cache

from pydantic import Field

from conveyor_kernel import ServiceSettings


class RegistrySettings(ServiceSettings):
    port: int = 8003
    metric_tolerance: float = Field(
        default=0.01, ge=0, description="how much worse than the champion a candidate may be and still win"
    )
    max_fairness_gap: float = Field(
        default=0.2, ge=0, le=1, description="largest absolute parity / equalized-odds gap a promotion allows"
    )


@lru_cache
def get_settings() -> RegistrySettings:
    return RegistrySettings()
