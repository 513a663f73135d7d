"""Conveyor's failure vocabulary. Handlers raise these; only the consumer loop decides what follows.

    ConveyorError
    ├── InvalidMessage      the record can never succeed: it goes to the dead-letter topic with the reason
    ├── TransientError      a fault that may pass (broker, disk, a peer): retried with a bound, then dead-lettered
    │   └── BrokerUnavailable   Kafka cannot take the record now: REST answers 503 at once; a consumer waits for
    │                           the broker and handles the same record again (never dead-lettered: not its fault)
    └── ConfigurationError  the process is mis-configured: fail fast at start-up
"""


class ConveyorError(Exception):
    """Base of every error the kernel raises or expects handlers to raise."""


class InvalidMessage(ConveyorError):  # noqa: N818 - it names the message, not the error
    """The record is undecodable or fails validation; retrying cannot help."""


class TransientError(ConveyorError):
    """The operation may succeed if tried again."""


class BrokerUnavailable(TransientError):  # noqa: N818 - names the condition, like TransientError
    """Kafka is unreachable, or did not acknowledge within the publish timeout: the producer has given the
    record up (it is not sent again later), so the caller may report a failure and a retry is safe."""


class ConfigurationError(ConveyorError):
    """Settings are missing or contradictory."""
