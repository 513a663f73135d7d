"""`python -m conveyor_ingest` runs the ingest service."""

import uvicorn

from conveyor_kernel import configure_logging, configure_tracing

from .settings import get_settings
from .wiring import create_app


def main() -> None:
    settings = get_settings()
    configure_logging("ingest")
    configure_tracing(settings.telemetry.service_name or "ingest", settings.telemetry.span_file)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
