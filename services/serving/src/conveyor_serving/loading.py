"""Loading and unloading models on request (the OIP model repository extension), and the folder at startup.

Load reads the model-repository folder (standalone mode); with Kafka, models arrive by promotion and `load`
only confirms one that is already loaded. With several worker processes the worker that received the call
acts at once and records the decision in SharedDecisions; the other workers follow it (DecisionFollower).
"""

import asyncio
import logging

from conveyor_kernel import cancel_task

from .adapters.model_folder import ModelFolder
from .adapters.onnx_model import ModelRefused
from .adapters.shared_decisions import SharedDecisions
from .metrics import ServingMetrics
from .repository import ModelNotFound, ModelRepository

logger = logging.getLogger(__name__)


class ModelLoader:
    """A component: starting it serves every model of the folder (a bad model stops startup, loudly)."""

    def __init__(self, repository: ModelRepository, metrics: ServingMetrics, folder: ModelFolder | None,
                 decisions: SharedDecisions | None = None) -> None:
        self.repository, self.metrics, self.folder, self.decisions = repository, metrics, folder, decisions

    async def start(self) -> None:
        if self.folder is not None:
            for name in sorted({entry.name for entry in self.folder.entries()}):
                self.load_folder(name)

    async def stop(self) -> None:
        pass  # loaded sessions go with the process

    def problems(self) -> list[str]:
        return []

    def load_folder(self, name: str) -> int:
        """Load every version of `name` from the folder and make the highest the champion; return it."""
        assert self.folder is not None, "only a server with a model-repository folder loads from it"
        loaded = self.folder.load(name)
        for model in loaded:
            self.repository.add(model)
        champion = loaded[-1]
        self.repository.promote(champion)
        self.metrics.swaps.labels(name).inc()
        logger.info("serving %s v%d from %s", name, champion.version, self.folder.root)
        return champion.version

    async def load(self, name: str) -> int | None:
        """The champion version loaded from the folder, or None for a model a promotion already loaded
        (a server without a folder)."""
        if self.folder is None:
            if self.repository.versions(name):
                return None
            raise ModelNotFound(f"model {name!r} is not loaded and this server has no model repository folder; "
                                "promote it through the registry")
        if not self.folder.entries(name):
            raise ModelNotFound(f"no {name}/<version>/model.onnx under {self.folder.root}")
        try:
            version = await asyncio.to_thread(self.load_folder, name)
        except ModelRefused as exc:
            raise ModelRefused(f"cannot load {name!r}: {exc}") from exc
        if self.decisions is not None:
            self.decisions.record(name, loaded=True)
        return version

    def unload(self, name: str) -> None:
        if not self.repository.unload(name):
            raise ModelNotFound(f"model {name!r} is not loaded")
        if self.decisions is not None:
            self.decisions.record(name, loaded=False)

    def index(self, ready: bool | None = None) -> list[dict[str, str]]:
        """Every loaded version, then the folder's unloaded ones; only those whose readiness is `ready`, if given."""
        rows = self.repository.index()
        loaded = {(r["name"], r["version"]) for r in rows}
        if self.folder is not None:
            rows += [{"name": e.name, "version": str(e.version), "state": "UNAVAILABLE", "reason": "unloaded"}
                     for e in self.folder.entries() if (e.name, str(e.version)) not in loaded]
        if ready is not None:
            rows = [r for r in rows if (r["state"] == "READY") == ready]
        return rows


class DecisionFollower:
    """A component: converges this worker on the load/unload decisions any worker recorded, by polling."""

    def __init__(self, loader: ModelLoader, folder: ModelFolder, decisions: SharedDecisions,
                 interval: float = 0.2) -> None:
        self.loader, self.folder, self.decisions, self.interval = loader, folder, decisions, interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="repository-decisions")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    def problems(self) -> list[str]:
        return []

    async def _follow(self) -> None:
        repository, seen = self.loader.repository, 0
        while True:
            stamp = self.decisions.stamp()
            if stamp != seen:
                seen = stamp
                for name, loaded in self.decisions.read().items():
                    here = bool(repository.versions(name))
                    try:
                        if loaded and not here and self.folder.entries(name):
                            await asyncio.to_thread(self.loader.load_folder, name)
                        elif not loaded and here:
                            repository.unload(name)
                            logger.info("unloaded %s: another worker was asked to", name)
                    except ModelRefused:
                        logger.exception("cannot follow the decision to load %s", name)
            await asyncio.sleep(self.interval)
