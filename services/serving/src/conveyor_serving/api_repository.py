"""The OIP model repository extension: index, load and unload.

Load reads the model-repository folder (standalone mode); with Kafka, models arrive by promotion and `load`
only confirms one that is already loaded. With several worker processes the worker that received the call
acts at once and records the decision in SharedDecisions; the other workers follow it (`follow_decisions`).
"""

import asyncio
import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from .adapters.model_folder import ModelFolder
from .adapters.onnx_model import ModelRefused
from .adapters.shared_decisions import SharedDecisions
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


async def follow_decisions(decisions: SharedDecisions, folder: ModelFolder, inferencer: Inferencer,
                           metrics: ServingMetrics, interval: float = 0.2) -> None:
    """Converge this worker on the load/unload decisions any worker recorded; runs until cancelled."""
    seen = 0
    while True:
        stamp = decisions.stamp()
        if stamp != seen:
            seen = stamp
            for name, loaded in decisions.read().items():
                here = bool(inferencer.repository.versions(name))
                try:
                    if loaded and not here and folder.entries(name):
                        await asyncio.to_thread(load_folder_model, folder, inferencer, metrics, name)
                    elif not loaded and here:
                        inferencer.repository.unload(name)
                        logger.info("unloaded %s: another worker was asked to", name)
                except ModelRefused:
                    logger.exception("cannot follow the decision to load %s", name)
        await asyncio.sleep(interval)


def build_repository_router(inferencer: Inferencer, folder: ModelFolder | None, metrics: ServingMetrics,
                            decisions: SharedDecisions | None = None) -> APIRouter:
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
        if decisions is not None:
            decisions.record(name, loaded=True)
        return json_response({"name": name, "loaded": True, "version": str(version)})

    @router.post("/models/{name}/unload")
    async def unload(name: str, request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        if not repository.unload(name):
            return json_response({"error": f"model {name!r} is not loaded"}, 404)
        if decisions is not None:
            decisions.record(name, loaded=False)
        return json_response({"name": name, "unloaded": True})

    return router
