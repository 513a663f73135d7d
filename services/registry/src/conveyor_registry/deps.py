"""FastAPI dependencies of the registry routes."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from .champions import Registry


def _registry(request: Request) -> Registry:
    return request.app.state.registry


RegistryDep = Annotated[Registry, Depends(_registry)]


def _session(registry: RegistryDep) -> Iterator[Session]:
    with Session(registry.engine) as session:
        yield session


DbSession = Annotated[Session, Depends(_session)]
