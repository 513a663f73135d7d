"""FastAPI dependencies of the ingest routes."""

from typing import Annotated

from fastapi import Depends, Request

from .ingest import Ingestor


def _ingestor(request: Request) -> Ingestor:
    return request.app.state.ingestor


IngestorDep = Annotated[Ingestor, Depends(_ingestor)]
