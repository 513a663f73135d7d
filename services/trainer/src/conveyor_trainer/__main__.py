"""`python -m conveyor_trainer` runs the trainer service."""

from conveyor_kernel import serve

from .settings import get_settings
from .wiring import SERVICE, create_app


def main() -> None:
    serve(SERVICE, get_settings(), create_app)


if __name__ == "__main__":
    main()
