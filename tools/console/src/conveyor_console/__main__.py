"""`python -m conveyor_console`: the web console on CONVEYOR_PORT (8007), tracing like every Conveyor process."""

from conveyor_kernel import serve

from .settings import get_settings
from .wiring import create_app


def main() -> None:
    serve("console", get_settings(), create_app)


if __name__ == "__main__":
    main()
