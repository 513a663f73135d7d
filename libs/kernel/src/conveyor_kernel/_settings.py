from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", description="prepended to every topic name (test isolation)")
    client_id: str = "conveyor"
    max_retries: int = Field(default=3, ge=0, description="attempts after the first for a transient fault")


class TelemetrySettings(BaseModel):
    service_name: str = ""
    span_file: Path | None = Field(
        default=None, description="write finished spans as JSON lines here (tests, air-gapped demos)"
    )


def _default_data_dir() -> Path:
    return Path.cwd() / "var" / "data"


class ServiceSettings(BaseSettings):
    """Settings every service shares. Each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_", env_nested_delimiter="__", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Field(default_factory=_default_data_dir)
    kafka: KafkaSettings = KafkaSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @property
    def artifact_root(self) -> Path:
        """The artifact store every service shares (datasets, models, references)."""
        return self.data_dir / "artifacts"

    def state_dir(self, service: str) -> Path:
        """Where one service keeps its private state (databases, caches)."""
        path = self.data_dir / service
        path.mkdir(parents=True, exist_ok=True)
        return path


@lru_cache
def get_base_settings() -> ServiceSettings:
    return ServiceSettings()
