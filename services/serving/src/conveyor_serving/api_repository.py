"""The OIP model repository extension: index, load and unload.

Load reads the model-repository folder (standalone mode); with Kafka, models arrive by promotion and `load`
only confirms one that is already loaded. With several worker processes, load/unload act on the worker that
received the call; promotions on Kafka reach every worker.
"""

import asyncio
import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from .adapters.model_folder import ModelFolder
from .adapters.onnx_model import ModelRefused
from .api import Inferencer, json_response
from .gate import Unauthorized
from .metrics import ServingMetrics

logger = logging.getLogger(__name__)


def load_folder_model(folder: ModelFolder, inferencer: Inferencer, metrics: ServingMetrics, name: str) -> int:
    """Load every version of `name` from the folder and make the highest the champion; return it."""
    loaded = folder.load(name)
    for model in loaded:
        inferencer.repository.add(model)
    champion = loaded[-1]
    inferencer.repository.promote(champion)
    metrics.swaps.labels(name).inc()
    logger.info("serving %s v%d from %s", name, champion.version, folder.root)
    return champion.version


def build_repository_router(inferencer: Inferencer, folder: ModelFolder | None, metrics: ServingMetrics) -> APIRouter:
    router = APIRouter(prefix="/v2/repository", tags=["model repository extension"])
    repository = inferencer.repository

    def denied(request: Request) -> Response | None:
        try:
            inferencer.gate.check_key(request)
        except Unauthorized as exc:
            return json_response({"error": str(exc)}, 401)
        return None

    @router.post("/index")
    async def index(request: Request) -> Response:
        body = await request.body()
        wanted: Any = None
        if body.strip():
            try:
                wanted = orjson.loads(body).get("ready")
            except (ValueError, AttributeError):
                return json_response({"error": 'index body must be empty or {"ready": true|false}'}, 400)
        rows = repository.index()
        loaded = {(r["name"], r["version"]) for r in rows}
        if folder is not None:
            rows += [{"name": e.name, "version": str(e.version), "state": "UNAVAILABLE", "reason": "unloaded"}
                     for e in folder.entries() if (e.name, str(e.version)) not in loaded]
        if wanted is not None:
            rows = [r for r in rows if (r["state"] == "READY") == bool(wanted)]
        return json_response(rows)

    @router.post("/models/{name}/load")
    async def load(name: str, request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        if folder is None:
            if repository.versions(name):
                return json_response({"name": name, "loaded": True})
            return json_response({"error": f"model {name!r} is not loaded and this server has no model "
                                            "repository folder; promote it through the registry"}, 404)
        if not folder.entries(name):
            return json_response({"error": f"no {name}/<version>/model.onnx under {folder.root}"}, 404)
        try:
            version = await asyncio.to_thread(load_folder_model, folder, inferencer, metrics, name)
        except ModelRefused as exc:
            return json_response({"error": f"cannot load {name!r}: {exc}"}, 400)
        return json_response({"name": name, "loaded": True, "version": str(version)})

    @router.post("/models/{name}/unload")
    async def unload(name: str, request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        if not repository.unload(name):
            return json_response({"error": f"model {name!r} is not loaded"}, 404)
        return json_response({"name": name, "unloaded": True})

    return router
