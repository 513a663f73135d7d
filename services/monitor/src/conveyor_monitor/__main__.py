import uvicorn

from conveyor_kernel import configure_logging, configure_tracing

from .service import create_app
from .settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging("monitor")
    configure_tracing(settings.telemetry.service_name or "monitor", settings.telemetry.span_file)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
