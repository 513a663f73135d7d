"""The in-memory model repository: every loaded version of every model, and which one is champion.

Swapping the champion is one reference assignment. A request reads `entry.champion` once and keeps that
object, so a swap never changes the model under a request already running; the old session is freed when
the last such request lets go of it (and it stays in `versions` for a rollback).
"""

from dataclasses import dataclass, field

from .adapters.onnx_model import LoadedModel


class ModelNotFound(LookupError):  # noqa: N818 - reads as "the model was not found"
    """No such model, version, or no champion yet; the message says which."""


@dataclass
class ModelEntry:
    name: str
    versions: dict[int, LoadedModel] = field(default_factory=dict)
    champion: LoadedModel | None = None


class ModelRepository:
    def __init__(self) -> None:
        self._entries: dict[str, ModelEntry] = {}

    def loaded(self, name: str, version: int) -> LoadedModel | None:
        entry = self._entries.get(name)
        return entry.versions.get(version) if entry else None

    def add(self, model: LoadedModel) -> None:
        entry = self._entries.setdefault(model.name, ModelEntry(model.name))
        entry.versions[model.version] = model

    def promote(self, model: LoadedModel) -> LoadedModel | None:
        """Make an added model the champion; return the one it replaced."""
        entry = self._entries[model.name]
        previous = entry.champion
        entry.champion = model  # the atomic swap
        return previous

    def resolve(self, name: str, version: str | None = None) -> LoadedModel:
        """The champion of `name`, or the given version; raise ModelNotFound naming what is missing."""
        entry = self._entries.get(name)
        if entry is None:
            raise ModelNotFound(f"model {name!r} is not deployed here; GET /v2/repository/index lists models")
        if version is None:
            champion = entry.champion
            if champion is None:
                raise ModelNotFound(f"model {name!r} has no champion yet")
            return champion
        model = entry.versions.get(int(version)) if version.isdigit() else None
        if model is None:
            known = ", ".join(str(v) for v in sorted(entry.versions))
            raise ModelNotFound(f"model {name!r} has no loaded version {version!r} (loaded: {known})")
        return model

    def versions(self, name: str) -> list[int]:
        entry = self._entries.get(name)
        return sorted(entry.versions) if entry else []

    def index(self) -> list[dict[str, str]]:
        return [
            {"name": entry.name, "version": str(version), "state": "READY"}
            for entry in self._entries.values()
            for version in sorted(entry.versions)
        ]
