"""FastAPI dependencies of the ingest routes."""

from typing import Annotated

from fastapi import Depends, Request

from .consent.book import ConsentBook
from .consent.erasure import Erasures
from .ingest import Ingestor


def _ingestor(request: Request) -> Ingestor:
    return request.app.state.ingestor


IngestorDep = Annotated[Ingestor, Depends(_ingestor)]


def _consent(request: Request) -> ConsentBook:
    return request.app.state.consent


def _erasures(request: Request) -> Erasures:
    return request.app.state.erasures


ConsentDep = Annotated[ConsentBook, Depends(_consent)]
ErasuresDep = Annotated[Erasures, Depends(_erasures)]
