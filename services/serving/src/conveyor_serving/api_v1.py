"""KServe V1 for older clients: `{"instances": [[...]]}` in, `{"predictions": [...]}` out."""

from fastapi import APIRouter, Request, Response

from .api import answer_infer, json_response
from .deps import InferencerDep, RepositoryDep
from .inference import infer_v1

router = APIRouter(prefix="/v1", tags=["inference (KServe V1)"])


@router.get("/models/{name}")
async def v1_model(name: str, repository: RepositoryDep) -> Response:
    model = repository.resolve(name, None)
    return json_response({"name": model.name, "ready": True})


@router.post("/models/{name}:predict")
async def v1_predict(name: str, request: Request, inferencer: InferencerDep) -> Response:
    return await answer_infer(inferencer, infer_v1, request)  # for /docs: `api.fast_routes` answer this path first
