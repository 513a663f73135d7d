"""The in-memory model repository: every loaded version of every model, and which one is champion.

Swapping the champion is one reference assignment. A request reads `entry.champion` once and keeps that
object, so a swap never changes the model under a request already running; the old session is freed when
the last such request lets go of it (and it stays in `versions` for a rollback).
"""

import random
from dataclasses import dataclass, field

from .adapters.onnx_model import LoadedModel


class ModelNotFound(LookupError):  # noqa: N818 - reads as "the model was not found"
    """No such model, version, or no champion yet; the message says which."""


CANARY, SHADOW = "canary", "shadow"


@dataclass(frozen=True)
class TrafficSplit:
    """Set by the registry. Canary: `candidate` answers a `weight` share of requests to the model's name.
    Shadow: `candidate` also runs on every such request; its answers are logged, never returned."""

    mode: str
    candidate: LoadedModel
    weight: float = 0.0

    def as_metadata(self) -> dict[str, object]:
        return {"mode": self.mode, "candidate_version": str(self.candidate.version), "canary_weight": self.weight}


@dataclass
class ModelEntry:
    name: str
    versions: dict[int, LoadedModel] = field(default_factory=dict)
    champion: LoadedModel | None = None
    split: TrafficSplit | None = None  # replaced whole, like the champion: one assignment, atomic


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
        entry.split = None  # a new champion ends any split; the registry sets a new one if it wants
        return previous

    def set_split(self, name: str, split: TrafficSplit | None) -> None:
        entry = self._entries.get(name)
        if entry is None or entry.champion is None:
            raise ModelNotFound(f"model {name!r} has no champion here to split traffic with")
        entry.split = split

    def split_of(self, name: str) -> TrafficSplit | None:
        entry = self._entries.get(name)
        return entry.split if entry else None

    def unload(self, name: str) -> bool:
        """Forget every version of `name`; requests already running keep their model object."""
        return self._entries.pop(name, None) is not None

    def resolve(self, name: str, version: str | None = None) -> LoadedModel:
        """The champion of `name`, or the given version; raise ModelNotFound naming what is missing."""
        entry = self._entries.get(name)
        if entry is None:
            raise ModelNotFound(f"model {name!r} is not deployed here; GET /v2/repository/index lists models")
        if version is None:
            champion, split = entry.champion, entry.split
            if champion is None:
                raise ModelNotFound(f"model {name!r} has no champion yet")
            if split is not None and split.mode == CANARY and random.random() < split.weight:  # noqa: S311
                return split.candidate
            return champion
        model = entry.versions.get(int(version)) if version.isdigit() else None
        if model is None:
            known = ", ".join(str(v) for v in sorted(entry.versions))
            raise ModelNotFound(f"model {name!r} has no loaded version {version!r} (loaded: {known})")
        return model

    def champion_version(self, name: str) -> int | None:
        entry = self._entries.get(name)
        return entry.champion.version if entry and entry.champion else None

    def versions(self, name: str) -> list[int]:
        entry = self._entries.get(name)
        return sorted(entry.versions) if entry else []

    def names(self) -> list[str]:
        return list(self._entries)

    def index(self) -> list[dict[str, str]]:
        return [
            {"name": entry.name, "version": str(version), "state": "READY"}
            for entry in self._entries.values()
            for version in sorted(entry.versions)
        ]
