"""What the registry refuses, and why; the API's ERRORS turns each one into a status."""

from conveyor_kernel import TransientError


class NotFound(LookupError):
    """The model or version does not exist."""


class Conflict(Exception):
    """The request contradicts the current state (already champion, nothing to roll back to)."""


class ChangeNotMade(TransientError):  # noqa: N818 - names the outcome the client sees
    """A change failed before its commit (publish or database): nothing changed, asking again is safe."""
