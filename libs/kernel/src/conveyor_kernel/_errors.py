"""Conveyor's failure vocabulary. Handlers raise these; only the consumer loop decides what follows.

    ConveyorError
    ├── InvalidMessage      the record can never succeed: it goes to the dead-letter topic with the reason
    ├── TransientError      a fault that may pass (broker, disk, a peer): retried with a bound, then dead-lettered
    └── ConfigurationError  the process is mis-configured: fail fast at start-up
"""


class ConveyorError(Exception):
    """Base of every error the kernel raises or expects handlers to raise."""


class InvalidMessage(ConveyorError):  # noqa: N818 - it names the message, not the error
    """The record is undecodable or fails validation; retrying cannot help."""


class TransientError(ConveyorError):
    """The operation may succeed if tried again."""


class ConfigurationError(ConveyorError):
    """Settings are missing or contradictory."""
