"""KServe V1 routes: the model list, model readiness and `:predict` (the codec is rest_v1)."""

from fastapi import APIRouter, Request, Response

from .api import INFER, UNKNOWN, V1, answer_infer, json_response
from .deps import InferencerDep, RepositoryDep

router = APIRouter(prefix="/v1", tags=["inference (KServe V1)"])


@router.get("/models")
async def v1_models(repository: RepositoryDep) -> Response:
    return json_response({"models": [name for name in repository.names() if repository.champion_version(name)]})


@router.get("/models/{name}", responses=UNKNOWN)
async def v1_model(name: str, repository: RepositoryDep) -> Response:
    model = repository.resolve(name, None)
    return json_response({"name": model.name, "ready": True})


@router.post("/models/{name}:predict", responses=INFER)
async def v1_predict(name: str, request: Request, inferencer: InferencerDep) -> Response:
    return await answer_infer(inferencer, V1, request)  # for /docs: `api.fast_routes` answer this path first
