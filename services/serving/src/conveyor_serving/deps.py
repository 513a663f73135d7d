"""FastAPI dependencies of the serving routes, read from `app.state.serving` (see wiring).

None on the infer path: there a dependency costs more per request than a small model's inference, so the
infer routes (`api.fast_routes`) hold the Inferencer themselves.
"""

from typing import Annotated

from fastapi import Depends, Request

from .inferencer import Inferencer
from .loading import ModelLoader
from .repository import ModelRepository


def _inferencer(request: Request) -> Inferencer:
    return request.app.state.serving.inferencer


def _repository(request: Request) -> ModelRepository:
    return request.app.state.serving.ports.repository


def _loader(request: Request) -> ModelLoader:
    return request.app.state.serving.loader


def _ready(request: Request) -> bool:
    return not request.app.state.serving.problems()


def _key_checked(request: Request) -> None:
    request.app.state.serving.inferencer.gate.check_key(request)  # raises Unauthorized


InferencerDep = Annotated[Inferencer, Depends(_inferencer)]
RepositoryDep = Annotated[ModelRepository, Depends(_repository)]
LoaderDep = Annotated[ModelLoader, Depends(_loader)]
ReadyDep = Annotated[bool, Depends(_ready)]
KEY_REQUIRED = Depends(_key_checked)  # for `dependencies=[...]`: the API key, as on the infer routes
