"""Event handlers: ModelTrained in, ModelRegistered + ModelPromoted/PromotionDeclined out."""

from sqlalchemy.exc import OperationalError

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, HandlerTable, TransientError

from .champions import Registry


def handlers(registry: Registry) -> HandlerTable:
    """The registry's table: which event it reacts to. Each handler closes over the registry it runs on."""

    async def on_model_trained(event: ev.ModelTrained, envelope: Envelope) -> None:
        try:
            await registry.register(event)
        except OperationalError as exc:
            # a locked or unreachable database may recover; nothing was committed, so a retry is safe
            raise TransientError(f"registry database unavailable: {exc}") from exc

    async def on_runs_flagged(event: ev.TrainingRunsFlagged, envelope: Envelope) -> None:
        try:
            await registry.flag(event)
        except OperationalError as exc:
            raise TransientError(f"registry database unavailable: {exc}") from exc

    return {ev.ModelTrained: on_model_trained, ev.TrainingRunsFlagged: on_runs_flagged}
