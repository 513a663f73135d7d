"""`python -m conveyor_ingest` runs the ingest service."""

from conveyor_kernel import serve

from .settings import get_settings
from .wiring import create_app


def main() -> None:
    serve("ingest", get_settings(), create_app)


if __name__ == "__main__":
    main()
