"""A model-repository folder, the layout Triton and MLServer users know: DIR/<model>/<version>/model.onnx.

Used by standalone serving (edge, benchmarks): no registry, no Kafka. Versions are positive integers; the
highest loaded version of a model becomes its champion.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from .onnx_model import LoadedModel, ModelRefused, load_model

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"


@dataclass(frozen=True)
class FolderEntry:
    name: str
    version: int
    path: Path


class ModelFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def entries(self, name: str | None = None) -> list[FolderEntry]:
        """Every `<model>/<version>/model.onnx` present (of one model when `name` is given)."""
        found = []
        models = [self.root / name] if name else sorted(p for p in self.root.iterdir() if p.is_dir())
        for model_dir in models:
            if not model_dir.is_dir():
                continue
            for version_dir in sorted(model_dir.iterdir()):
                if version_dir.name.isdigit() and int(version_dir.name) > 0 and (version_dir / MODEL_FILE).is_file():
                    found.append(FolderEntry(model_dir.name, int(version_dir.name), version_dir / MODEL_FILE))
        return sorted(found, key=lambda e: (e.name, e.version))

    def load(self, name: str) -> list[LoadedModel]:
        """Load every version of `name`, lowest first; raise ModelRefused naming the folder and the fault."""
        entries = self.entries(name)
        if not entries:
            raise ModelRefused(f"no {name}/<version>/{MODEL_FILE} under {self.root}")
        loaded = []
        for entry in entries:
            try:
                data = entry.path.read_bytes()
            except OSError as exc:
                raise ModelRefused(f"{entry.name}/{entry.version}/{MODEL_FILE} cannot be read: {exc}") from exc
            try:
                loaded.append(load_model(data, entry.name, entry.version, entry.path.as_uri(), [],
                                         strict=False))
            except ModelRefused as exc:
                raise ModelRefused(f"{entry.name}/{entry.version}/{MODEL_FILE}: {exc}") from exc
        return loaded
