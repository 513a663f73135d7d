"""`python -m conveyor_monitor` runs the monitor service (faust and FastAPI in one loop)."""

from conveyor_kernel import serve

from .settings import get_settings
from .wiring import create_app


def main() -> None:
    serve("monitor", get_settings(), create_app)


if __name__ == "__main__":
    main()
