from functools import lru_cache

from pydantic import Field, field_validator

from conveyor_kernel import ServiceSettings


class MonitorSettings(ServiceSettings):
    port: int = 8005
    window_size: int = Field(default=500, ge=20, description="predictions per drift evaluation window")
    drift_method: str | None = Field(
        default=None, description="one drift method for every column (see stattests.METHODS); unset: Evidently's "
        "choice per column"
    )
    drift_share_threshold: float = Field(
        default=0.5, gt=0, le=1, description="the dataset has drifted when this share of features drifted"
    )
    drift_confirm_windows: int = Field(
        default=2, ge=1, description="consecutive drifted windows of one champion before the dataset-level alarm "
        "(DriftDetected + RetrainRequested); each window's own verdict is recorded either way"
    )
    retrain_cooldown_seconds: float = Field(
        default=300, ge=0, description="after a drift is published, further drifted windows stay quiet this long"
    )
    retrain_max_per_hour: int = Field(default=3, ge=1, description="retrain requests per model per rolling hour")
    parity_difference_threshold: float = Field(
        default=0.1, gt=0, le=1, description="demographic parity difference above which a window may be unfair"
    )
    fairness_alpha: float = Field(
        default=0.01, gt=0, lt=1, description="a parity gap counts only when group and outcome test dependent at this"
    )
    min_group_size: int = Field(default=20, ge=1, description="groups with fewer rows in a window are not judged")
    label_window_size: int = Field(default=200, ge=10, description="labelled predictions per performance window")
    feedback_min_labels: int = Field(
        default=200, ge=1, description="new labelled rows a retrain waits for when the champion's ModelPromoted "
        "declares no RetrainPolicy.min_labels"
    )
    performance_tolerance: float = Field(
        default=0.1, ge=0, description="how far a live metric may fall below the holdout's before it is degradation"
    )
    commit_interval_seconds: float = Field(
        default=2.8, gt=0, description="how often faust commits consumed offsets (after flushing the changelog)"
    )
    fetch_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024 * 1024, description="most bytes fetched from one partition at once "
        "(faust's consumer_max_fetch_size); faust's 1 MiB default holds only ~7 of serving's 500-row batches"
    )
    session_timeout_seconds: float = Field(
        default=30, ge=6, description="consumer group session timeout: how long a crashed monitor blocks a new one"
    )
    table_partitions: int = Field(
        default=1, ge=1, description="partitions of the monitor's faust tables and their changelogs: the partition "
        "count of conveyor.predictions, which conveyor.registry must share (a model's predictions and promotions "
        "then land on the same partition, and so with the same monitor instance)",
    )
    history_size: int = Field(default=100, ge=1, description="evaluations kept per model for the REST API")

    @field_validator("drift_method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        from .stattests import METHODS

        if value is not None and value not in METHODS:
            raise ValueError(f"drift_method {value!r} is unknown; use one of {sorted(METHODS)} or leave it unset")
        return value


@lru_cache
def get_settings() -> MonitorSettings:
    return MonitorSettings()
