"""The one way a service process starts: logging, tracing, then the HTTP server around its app."""

from collections.abc import Callable
from typing import Any, TypeVar

from ._logging import configure_logging
from ._settings import ServiceSettings
from ._telemetry import configure_tracing

S = TypeVar("S", bound=ServiceSettings)


def serve(service: str, settings: S, create_app: Callable[[S], Any], **uvicorn_options: Any) -> None:
    import uvicorn

    configure_logging(service)
    configure_tracing(settings.telemetry.service_name or service, settings.telemetry.span_file)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **uvicorn_options)
