"""The use case behind POST /models: take a notebook's ONNX model, measure it, record it, announce it.

Order as for a platform run: the outcome is recorded before it is published, so a retry after a failed
publish (503) announces the same run again instead of a second one.
"""

import asyncio
import logging
from dataclasses import dataclass

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import TransientError
from conveyor_kernel.identity import acting_principal

from .handlers import TrainerPorts
from .notebook import NotebookUpload, evaluate_notebook_model, run_id_of
from .runs import run_details
from .training import Trigger

logger = logging.getLogger(__name__)


class PublishFailed(TransientError):  # noqa: N818 - names the outcome the client sees
    """The model was measured and recorded, but the broker did not take ModelTrained: retry the upload."""


@dataclass(frozen=True)
class NotebookIntake:
    ports: TrainerPorts

    async def register(self, upload: NotebookUpload) -> ev.ModelTrained:
        ports = self.ports
        run_id = run_id_of(upload)
        trained = ports.state.outcome(run_id)
        if not isinstance(trained, ev.ModelTrained):
            dataset = ports.state.dataset(upload.dataset_id)
            trained = await asyncio.to_thread(evaluate_notebook_model, upload, dataset, run_id, ports.store,
                                              ports.settings)
            caller = acting_principal()
            if caller is not None:  # the registry never lets the model's author approve its promotion
                trained.author.CopyFrom(caller.as_event())
            ports.state.run_started(run_id, trained.model_name, trained.dataset_id, Trigger.NOTEBOOK)
            ports.state.run_trained(run_id, dict(trained.metrics), trained.artifact_uri, run_details(trained))
            ports.state.record_outcome(run_id, trained)
            ports.metrics.runs.labels(outcome="trained").inc()
        else:
            logger.info("notebook model %s was registered before as run %s; announcing it again",
                        trained.model_name, run_id)
        try:
            await ports.publisher.publish(trained, subject=trained.model_name)
        except TransientError as exc:
            raise PublishFailed(f"the model was measured but the event bus is unavailable; retry ({exc})") from exc
        return trained
