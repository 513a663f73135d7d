from functools import lru_cache

from pydantic import Field

from conveyor_kernel import ServiceSettings


class AuditSettings(ServiceSettings):
    port: int = 8006
    read_only: bool = Field(
        default=False,
        description="serve the ledger without consuming; also lets a ledger that fails verification be inspected",
    )
    batch_size: int = Field(default=500, ge=1, le=10_000, description="most records appended per transaction")


@lru_cache
def get_settings() -> AuditSettings:
    return AuditSettings()
