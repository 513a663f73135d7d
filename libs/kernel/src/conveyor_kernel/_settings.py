"""Settings every service shares, read from CONVEYOR_* variables (nested with `__`)."""

from pathlib import Path

from google.protobuf.message import Message
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import topics


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", description="prepended to every topic and group name (test isolation)")
    client_id: str = "conveyor"
    max_retries: int = Field(default=3, ge=0, description="attempts after the first for a transient fault")
    retry_wait: float = Field(default=0.2, ge=0, description="seconds before the first retry; doubles each time")

    def topic(self, topic: str | type[Message]) -> str:
        """The full name of a topic (by base name, or the one an event class travels on): the one place the
        prefix is applied."""
        return topics.named(topic, self.topic_prefix)

    def group(self, name: str) -> str:
        """The full name of a consumer group."""
        return self.topic_prefix + name


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

