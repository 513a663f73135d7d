"""The one way a service process starts: logging, tracing, then the HTTP server around its app."""

from collections.abc import Callable
from typing import Any, TypeVar

from ._logging import configure_logging
from ._settings import ServiceSettings
from ._telemetry import configure_tracing

S = TypeVar("S", bound=ServiceSettings)


def configure_process(service: str, settings: ServiceSettings) -> None:
    """Logging and tracing for one service process (each worker of a multi-process server calls it)."""
    configure_logging(service)
    configure_tracing(settings.telemetry.service_name or service, settings.telemetry.span_file,
                      settings.telemetry.span_file_max_bytes)


def serve(service: str, settings: S, create_app: Callable[[S], Any], **uvicorn_options: Any) -> None:
    import uvicorn

    configure_process(service, settings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **uvicorn_options)
