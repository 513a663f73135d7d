from functools import lru_cache

from pydantic import Field

from conveyor_kernel import ServiceSettings


class ServingSettings(ServiceSettings):
    port: int = 8004
    instance: str = Field(default="", description="name of this serving process; generated when empty")
    max_batch_rows: int = Field(default=10_000, ge=1, description="most rows one infer request may carry")
    offload_bytes: int = Field(
        default=64 * 1024, ge=0, description="infer bodies larger than this are parsed and run off the event loop"
    )
    log_buffer_size: int = Field(default=100_000, ge=1, description="predictions held before new ones are dropped")
    log_batch_size: int = Field(default=500, ge=1, description="predictions per PredictionsLogged event")
    log_flush_interval: float = Field(default=0.5, gt=0, description="seconds between prediction-log flushes")


@lru_cache
def get_settings() -> ServingSettings:
    return ServingSettings()
