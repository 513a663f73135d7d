"""The artifact store: immutable, content-addressed blobs on the local file system.

An object's id is the sha256 of its bytes; writing is atomic (temp file + rename), so a reader never sees
half an object and a crash leaves nothing half-written.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ._errors import InvalidMessage


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, kind: str, data: bytes, suffix: str = "") -> tuple[str, str]:
        """Store bytes under `kind/`; return (sha256 hex, uri). Storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / kind / f"{digest}{suffix}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return digest, path.resolve().as_uri()

    def put_json(self, kind: str, document: Any) -> tuple[str, str]:
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        return self.put(kind, data, ".json")

    def path_of(self, uri: str) -> Path:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise InvalidMessage(f"unsupported artifact uri {uri!r}: only file:// is served by this store")
        return Path(parsed.path)

    def get(self, uri: str) -> bytes:
        path = self.path_of(uri)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise InvalidMessage(f"artifact {uri} does not exist") from exc

    def get_json(self, uri: str) -> Any:
        return json.loads(self.get(uri))

    def delete(self, uri: str) -> bool:
        """Remove an object for good (an erasure's old bytes); True if it was there. Content addressing makes
        this safe: no other object can share the bytes under another name."""
        path = self.path_of(uri)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
