"""The infer path's request error, shared by every protocol (REST JSON, binary REST, KServe V1, gRPC)."""


class BadRequest(ValueError):
    """The request cannot be served as sent; the message names the input (or field) and what to fix."""
