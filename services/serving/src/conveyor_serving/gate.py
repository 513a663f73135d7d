"""What every inference request passes before parsing: the API key (when keys are set) and the body size limit.

Plain functions called from the routes, not FastAPI dependencies: a dependency costs more per request than
the inference of a small model.
"""

import hmac
from collections.abc import Callable

from fastapi import Request

from .errors import BadRequest


class Unauthorized(Exception):  # noqa: N818 - reads as "the request is unauthorized"
    """No valid API key on a route that needs one."""


class BodyTooLarge(Exception):  # noqa: N818
    """The body exceeds max_body_bytes; answered 413 without reading the rest."""


class Gate:
    def __init__(self, api_keys: list[str], max_body_bytes: int) -> None:
        self._keys = [key.encode() for key in api_keys if key]
        self.max_body_bytes = max_body_bytes

    def check_key(self, request: Request) -> None:
        if self._keys:
            self.check_headers(request.headers.get)

    def check_headers(self, header: Callable[[str], str | None]) -> None:
        """The key check on any headers (REST headers, gRPC metadata): `header(name)` gives a header's value."""
        if not self._keys:
            return
        given = header("x-api-key")
        if given is None:
            scheme, _, token = (header("authorization") or "").partition(" ")
            given = token if scheme.lower() == "bearer" else None
        if not given:
            raise Unauthorized("this route needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        # constant-time comparison so response timing does not leak how much of a key matched
        if not any(hmac.compare_digest(given.encode(), key) for key in self._keys):
            raise Unauthorized("the API key is not valid")

    async def body(self, request: Request) -> bytes:
        limit = self.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise BadRequest(f"content-length {length!r} is not a number")
            if int(length) > limit:
                raise BodyTooLarge(f"request body of {length} bytes is over the limit of {limit}; split the batch")
            return await request.body()
        chunks, size = [], 0  # chunked upload: stop reading as soon as the limit is passed
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"request body is over the limit of {limit} bytes; split the batch")
            chunks.append(chunk)
        return b"".join(chunks)
