"""The artifact store on an S3-compatible API (AWS S3, SeaweedFS, MinIO, Ceph, moto's server), with boto3.

Where to find the service and who we are come from the variables boto3 reads itself: AWS_ENDPOINT_URL (empty
for AWS), AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or any of boto3's credential
sources: a profile, an instance role, IRSA on Kubernetes). With an endpoint set, buckets are addressed by path
(`http://host:port/bucket/key`), which every S3-compatible server accepts; AWS itself gets virtual hosts.

A store that cannot be reached raises TransientError (a consumer retries, REST answers 503); a missing object
reads as None, so `get` says which URI is gone.
"""

import os
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ._errors import ConfigurationError, InvalidMessage, TransientError
from ._storage import ArtifactStore, _checked_key

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3Store(ArtifactStore):
    """Objects `s3://<bucket>/<prefix>/<kind>/<sha256><suffix>`."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> "S3Store":
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ConfigurationError(f"artifact root {url!r} names no bucket: use s3://bucket/prefix")
        return cls(parsed.netloc, parsed.path)

    @property
    def client(self) -> Any:
        if self._client is None:  # built on first use: nothing connects at construction
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                            s3={"addressing_style": "path" if endpoint else "auto"})
            self._client = boto3.session.Session().client("s3", config=config)
        return self._client

    @property
    def root(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri_of(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._name(key)}"

    def key_of(self, uri: str) -> str:
        parsed = urlparse(uri)
        name = parsed.path.lstrip("/")
        base = f"{self.prefix}/" if self.prefix else ""
        if parsed.scheme != "s3" or parsed.netloc != self.bucket or not name.startswith(base):
            raise InvalidMessage(f"artifact uri {uri!r} is not in this store ({self.root}): the platform shares "
                                 "one artifact root; set CONVEYOR_ARTIFACT_ROOT alike for every service")
        return _checked_key(name[len(base):], uri)

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise _unavailable("look up", key, exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("look up", key, exc) from exc
        return True

    def _read(self, key: str) -> bytes | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise _unavailable("read", key, exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("read", key, exc) from exc

    def _write(self, key: str, data: bytes) -> None:
        try:  # one PUT: S3 makes an object visible whole or not at all
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable("write", key, exc) from exc

    def _delete(self, key: str) -> bool:
        existed = self._exists(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable("delete", key, exc) from exc
        return existed


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(action: str, key: str, exc: Exception) -> TransientError:
    return TransientError(f"object store: could not {action} {key}: {exc}")
