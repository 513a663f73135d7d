"""`python -m conveyor_registry` runs the registry service."""

from conveyor_kernel import serve

from .settings import get_settings
from .wiring import create_app


def main() -> None:
    serve("registry", get_settings(), create_app)


if __name__ == "__main__":
    main()
