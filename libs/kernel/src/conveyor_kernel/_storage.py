"""The artifact store: immutable, content-addressed blobs, in a local folder or an S3-compatible bucket.

An object's name is `<kind>/<sha256 of its bytes><suffix>`, so storing the same bytes twice is a no-op and a
reader can check what it got. Services pass URIs on Kafka and nothing else: `file://` for the local folder
(the embedded default), `s3://bucket/prefix/...` for a bucket. A store hands out bytes, never a path, and reads
only URIs under its own root: an event cannot make a service read an arbitrary file or bucket.

Writes are atomic: a temp file renamed into place, or one S3 PUT (an object appears whole or not at all), so a
reader never sees half an object and a crash leaves nothing half-written. `delete` removes an object for good
(erasure: the bytes of a dataset whose consent was withdrawn); a URI of a deleted object then reads as missing.
"""

import hashlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ._errors import ConfigurationError, InvalidMessage


class ArtifactStore(ABC):
    """What every store does; subclasses move bytes for a key (`<kind>/<name>`) and map keys to URIs."""

    def put(self, kind: str, data: bytes, suffix: str = "") -> tuple[str, str]:
        """Store bytes under `kind/`; return (sha256 hex, uri). Storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        key = f"{kind}/{digest}{suffix}"
        if not self._exists(key):
            self._write(key, data)
        return digest, self.uri_of(key)

    def put_json(self, kind: str, document: Any) -> tuple[str, str]:
        data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        return self.put(kind, data, ".json")

    def get(self, uri: str) -> bytes:
        """The object's bytes; InvalidMessage when it does not exist (never stored, or deleted)."""
        data = self._read(self.key_of(uri))
        if data is None:
            raise InvalidMessage(f"artifact {uri} does not exist")
        return data

    def get_json(self, uri: str) -> Any:
        return json.loads(self.get(uri))

    def exists(self, uri: str) -> bool:
        return self._exists(self.key_of(uri))

    def delete(self, uri: str) -> bool:
        """Remove the object for good; True if it was there. Idempotent."""
        return self._delete(self.key_of(uri))

    @abstractmethod
    def uri_of(self, key: str) -> str: ...

    @abstractmethod
    def key_of(self, uri: str) -> str:
        """The key of a URI under this store's root; InvalidMessage for any other URI."""

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _read(self, key: str) -> bytes | None: ...

    @abstractmethod
    def _write(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def _delete(self, key: str) -> bool: ...


def _checked_key(key: str, uri: str) -> str:
    parts = key.split("/")
    if len(parts) != 2 or not all(parts) or any(part in (".", "..") for part in parts):
        raise InvalidMessage(f"artifact uri {uri!r} names no <kind>/<object> in this store")
    return key


class FileStore(ArtifactStore):
    """Objects as files under a root folder: `file://<root>/<kind>/<sha256><suffix>`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def uri_of(self, key: str) -> str:
        return (self.root / key).as_uri()

    def key_of(self, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise InvalidMessage(f"artifact uri {uri!r} is not in this store ({self.root.as_uri()}): the platform "
                                 "shares one artifact root; set CONVEYOR_ARTIFACT_ROOT alike for every service")
        path = Path(parsed.path)
        try:
            relative = path.relative_to(self.root)
        except ValueError as exc:
            raise InvalidMessage(f"artifact uri {uri!r} is outside this store's root {self.root}") from exc
        return _checked_key(relative.as_posix(), uri)

    def _exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def _read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, key: str, data: bytes) -> None:
        path = self.root / key
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

    def _delete(self, key: str) -> bool:
        try:
            (self.root / key).unlink()
        except FileNotFoundError:
            return False
        return True


def open_store(root: str | Path) -> ArtifactStore:
    """The store a CONVEYOR_ARTIFACT_ROOT names: s3://bucket[/prefix], file:///path, or a plain path."""
    text = str(root)
    if text.startswith("s3://"):
        from ._s3 import S3Store  # boto3 loads only where a bucket is used

        return S3Store.from_url(text)
    if text.startswith("file://"):
        return FileStore(Path(urlparse(text).path))
    if "://" in text:
        raise ConfigurationError(f"CONVEYOR_ARTIFACT_ROOT {text!r}: use s3://bucket/prefix, file:///path or a path")
    return FileStore(Path(text))
