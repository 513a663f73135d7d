"""The OIP model repository extension over REST: index, load and unload (the use case is `loading`)."""

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from .api import UNKNOWN, json_response
from .deps import LoaderDep
from .inference import BadRequest

router = APIRouter(prefix="/v2/repository", tags=["model repository extension"])


@router.post("/index", responses={400: {"description": 'the body is neither empty nor {"ready": true|false}'}})
async def index(request: Request, loader: LoaderDep) -> Response:
    body = await request.body()
    wanted: Any = None
    if body.strip():
        try:
            wanted = orjson.loads(body).get("ready")
        except (ValueError, AttributeError) as exc:
            raise BadRequest('index body must be empty or {"ready": true|false}') from exc
    return json_response(loader.index(None if wanted is None else bool(wanted)))


# Load and unload are the control plane: the access table decides them by role (a bearer token), so
# inference API keys, which ride in the same Authorization header, are not asked for here.
@router.post("/models/{name}/load",
             responses={**UNKNOWN, 400: {"description": "the model folder holds no model serving can load"}})
async def load(name: str, loader: LoaderDep) -> Response:
    version = await loader.load(name)
    if version is None:
        return json_response({"name": name, "loaded": True})
    return json_response({"name": name, "loaded": True, "version": str(version)})


@router.post("/models/{name}/unload", responses=UNKNOWN)
async def unload(name: str, loader: LoaderDep) -> Response:
    loader.unload(name)
    return json_response({"name": name, "unloaded": True})
