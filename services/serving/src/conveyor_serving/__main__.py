"""Conveyor serving: keeps each model's champion loaded in ONNX Runtime and answers Open Inference Protocol v2.

Consumes ModelPromoted (every worker process sees every promotion), publishes ModelDeployed and
PredictionsLogged. `python -m conveyor_serving` reads its settings from CONVEYOR_* variables; with
CONVEYOR_WORKERS > 1 uvicorn binds the port once and runs that many worker processes on it.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from conveyor_kernel import configure_process

from .metrics import MULTIPROC_DIR
from .settings import get_settings

DECISIONS_FILE = "CONVEYOR_REPOSITORY_DECISIONS_FILE"
# httptools, with a response's header and body writes sent as one (see http_protocol.py); a string, so
# uvicorn's worker processes import it themselves
HTTP_PROTOCOL = "conveyor_serving.http_protocol:CoalescingHttpToolsProtocol"

if TYPE_CHECKING:
    from fastapi import FastAPI


def app_factory() -> "FastAPI":
    """Run in each worker process: logging and tracing are per process, so they are set up here."""
    # Imported here, not at the top: the supervisor of N workers never needs ONNX Runtime, and on a
    # loaded machine every import it skips shortens the time until the workers start.
    from .wiring import create_app

    settings = get_settings()
    configure_process("serving", settings)
    return create_app(settings)


def main() -> None:
    settings = get_settings()
    # No per-request access log: it would cost more than the inference of a small model.
    options = {"host": settings.host, "port": settings.port, "access_log": False, "loop": "uvloop",
               "http": HTTP_PROTOCOL, "log_level": "info"}
    if settings.workers <= 1:
        uvicorn.run(app_factory(), **options)
    else:
        with _worker_shared(settings.state_dir("serving") / f"workers-{os.getpid()}"):
            uvicorn.run("conveyor_serving.__main__:app_factory", factory=True, workers=settings.workers, **options)


@contextmanager
def _worker_shared(folder: Path) -> Iterator[None]:
    """A fresh folder for what the workers share: metric values and load/unload decisions.

    Handed over in environment variables set before the workers start (they inherit them); removed at exit.
    """
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "metrics").mkdir(parents=True)
    shared = {DECISIONS_FILE: str(folder / "repository.json")}
    if not os.environ.get(MULTIPROC_DIR):  # one the operator chose is theirs to manage
        shared[MULTIPROC_DIR] = str(folder / "metrics")
    os.environ.update(shared)
    try:
        yield
    finally:
        for name in shared:
            del os.environ[name]
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
