"""The console's settings: the services' shared ones (port, mode, data dir for the dev issuer, auth, telemetry)
plus where the services are, read as the CLI reads them (CONVEYOR_<SERVICE>_URL or the config file)."""

from functools import lru_cache

from pydantic import Field

from conveyor_cli import config as client_config
from conveyor_kernel import ServiceSettings


class ConsoleSettings(ServiceSettings):
    port: int = 8007
    session_hours: float = Field(default=8.0, gt=0, description="how long a dev-mode sign-in lasts")
    events_page: int = Field(default=50, ge=1, le=500, description="lifecycle events shown on the stream")

    def urls(self) -> dict[str, str]:
        return client_config.load().urls

    def prometheus_url(self) -> str | None:
        """Prometheus, when the platform runs one (CONVEYOR_PROMETHEUS_URL); else the console reads /metrics."""
        import os

        return os.environ.get(client_config.url_env("prometheus")) or None


@lru_cache
def get_settings() -> ConsoleSettings:
    return ConsoleSettings()
