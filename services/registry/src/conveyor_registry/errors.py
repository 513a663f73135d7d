"""What the registry refuses, and why; the API's ERRORS turns each one into a status."""

from conveyor_kernel import TransientError


class NotFound(LookupError):
    """The model or version does not exist."""


class Conflict(Exception):
    """The request contradicts the current state (already champion, nothing to roll back to)."""


class ChangeNotMade(TransientError):  # noqa: N818 - names the outcome the client sees
    """A change failed before its commit (publish or database): nothing changed, asking again is safe."""


class Forbidden(Exception):
    """Separation of duties refuses this person this act (an approver who requested, authored, ...)."""


class UnknownAlias(ValueError):
    """A promotion to an alias the policy in force does not govern."""


class PolicyInvalid(ValueError):
    """A policy document that cannot be published: the message names the field and the fix."""


class Closed(Conflict):
    """The promotion request is final (approved, rejected, expired): a new try is a new request."""
