from functools import lru_cache

from pydantic import Field

from conveyor_kernel import ServiceSettings


class MonitorSettings(ServiceSettings):
    port: int = 8005
    window_size: int = Field(default=500, ge=20, description="predictions per drift evaluation window")
    p_value_threshold: float = Field(
        default=0.05, gt=0, lt=1, description="a feature has drifted when its test's p-value is below this"
    )
    drift_share_threshold: float = Field(
        default=0.5, gt=0, le=1, description="the dataset has drifted when this share of features drifted"
    )
    retrain_cooldown_seconds: float = Field(
        default=300, ge=0, description="after a drift is published, further drifted windows stay quiet this long"
    )
    history_size: int = Field(default=100, ge=1, description="evaluations kept per model for the REST API")


@lru_cache
def get_settings() -> MonitorSettings:
    return MonitorSettings()
