"""Event handlers: FeedbackCollected in, a new dataset version (DatasetArrived) or DatasetRejected out."""

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, HandlerTable

from .feedback import accept_feedback
from .ingest import Ingestor


def handlers(ingestor: Ingestor) -> HandlerTable:
    """Ingest's table: uploads arrive over REST; production feedback arrives as an event."""

    async def on_feedback_collected(event: ev.FeedbackCollected, envelope: Envelope) -> None:
        await accept_feedback(ingestor, event, source=envelope.source or "monitor")

    return {ev.FeedbackCollected: on_feedback_collected}
