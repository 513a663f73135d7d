import uvicorn

from conveyor_kernel import configure_logging, configure_tracing

from .settings import get_settings
from .wiring import create_app


def main() -> None:
    settings = get_settings()
    configure_logging("serving")
    configure_tracing(settings.telemetry.service_name or "serving", settings.telemetry.span_file)
    # No per-request access log: it would cost more than the inference of a small model.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False)


if __name__ == "__main__":
    main()
