"""Event handlers: DatasetArrived and RetrainRequested each end in ModelTrained or ModelTrainingFailed."""

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import ArtifactStore, Envelope, HandlerTable, InvalidMessage, Publisher

from .adapters.consent_state import ConsentState
from .adapters.state import TrainerState
from .composition import is_feedback
from .consent_gate import ConsentGate
from .metrics import TrainerMetrics
from .runs import run_details
from .settings import TrainerSettings
from .training import RunRequest, TrainingFailure, Trigger, model_name_of, train

logger = logging.getLogger(__name__)
_RUN_NAMESPACE = uuid.UUID("6f1c2d7e-3b7a-4c55-9a51-5f0e8c1d2b90")


@dataclass(frozen=True)
class TrainerPorts:
    store: ArtifactStore
    state: TrainerState
    publisher: Publisher
    settings: TrainerSettings
    metrics: TrainerMetrics
    consent: ConsentState


def run_id_for(envelope: Envelope) -> str:
    """One run per triggering event: a redelivered event names the same run (the registry dedupes by run id)."""
    return uuid.uuid5(_RUN_NAMESPACE, envelope.id).hex


async def run_training(ports: TrainerPorts, request: RunRequest) -> None:
    """Train in a worker thread (the consumer loop and /healthz stay live) and publish the outcome.

    A failed run is a fact for the lifecycle, not a bad message: it is published and the handler returns.
    The outcome is recorded before it is published, so a trigger redelivered after a crash republishes the
    same outcome instead of training a second, differently named model.
    """
    request = request.with_run_id()
    if request.gate is None:
        request = RunRequest(request.dataset, request.trigger, request.run_id, request.versions,
                             ConsentGate(ports.consent.states))
    earlier = ports.state.outcome(request.run_id)
    if earlier is not None:
        logger.info("run %s already finished; publishing its outcome again", request.run_id)
        await ports.publisher.publish(earlier, subject=earlier.model_name)
        return
    dataset = request.dataset
    model_name = model_name_of(dataset)
    ports.state.run_started(request.run_id, model_name, dataset.dataset_id, request.trigger)
    started = time.perf_counter()
    try:
        trained = await asyncio.to_thread(train, request, ports.store, ports.settings)
    except Exception as exc:  # noqa: BLE001 - every failure of a run must end as a published fact
        failure = exc if isinstance(exc, TrainingFailure) else TrainingFailure("train", f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, TrainingFailure):
            logger.exception("run %s failed unexpectedly", request.run_id)
        await publish_failure(ports, request.run_id, model_name, dataset.dataset_id, failure)
        return
    finally:
        ports.metrics.training_seconds.observe(time.perf_counter() - started)
    ports.consent.record_run(request.run_id, request.gate.included if request.gate else [])
    ports.state.run_trained(request.run_id, dict(trained.metrics), trained.artifact_uri, run_details(trained))
    ports.state.record_outcome(request.run_id, trained)
    ports.metrics.runs.labels(outcome="trained").inc()
    await ports.publisher.publish(trained, subject=trained.model_name)


async def publish_failure(ports: TrainerPorts, run_id: str, model_name: str, dataset_id: str,
                          failure: TrainingFailure) -> None:
    logger.warning("run %s of %s failed at %s: %s", run_id, model_name, failure.stage, failure.reason)
    ports.state.run_failed(run_id, failure.stage, failure.reason)
    ports.metrics.runs.labels(outcome=failure.stage).inc()
    failed = ev.ModelTrainingFailed(model_name=model_name, dataset_id=dataset_id, stage=failure.stage,
                                    reason=failure.reason)
    ports.state.record_outcome(run_id, failed)
    await ports.publisher.publish(failed, subject=model_name)


def consent_handlers(ports: TrainerPorts) -> HandlerTable:
    from .withdrawals import handlers as withdrawal_handlers  # they train through run_training, defined here

    return withdrawal_handlers(ports)


def _check_dataset(dataset: ev.DatasetArrived) -> None:
    missing = [name for name in ("dataset_id", "uri", "target") if not getattr(dataset, name)]
    if missing:
        raise InvalidMessage(f"DatasetArrived lacks {', '.join(missing)}; ingest must set them")


def handlers(ports: TrainerPorts) -> HandlerTable:
    """Which event starts a run; a run ends in ModelTrained or ModelTrainingFailed."""

    def request_for(dataset: ev.DatasetArrived, trigger: Trigger, envelope: Envelope) -> RunRequest:
        others = tuple(v for v in ports.state.versions(dataset.name) if v.dataset_id != dataset.dataset_id)
        return RunRequest(dataset, trigger=trigger, run_id=run_id_for(envelope), versions=others)

    async def on_dataset_arrived(event: ev.DatasetArrived, envelope: Envelope) -> None:
        _check_dataset(event)
        ports.state.remember_dataset(event, model_name_of(event))
        trigger = Trigger.PRODUCTION_FEEDBACK if is_feedback(event) else Trigger.DATASET_ARRIVED
        await run_training(ports, request_for(event, trigger, envelope))

    async def on_retrain_requested(event: ev.RetrainRequested, envelope: Envelope) -> None:
        """Train on data newer than the version found wanting, or say there is none: never mint the same model
        again from the data it already learned from."""
        known = ports.state.dataset(event.dataset_id) if event.dataset_id else None
        if known is not None and event.model_name and model_name_of(known) != event.model_name:
            raise InvalidMessage(
                f"dataset {event.dataset_id} trains model {model_name_of(known)!r}, not {event.model_name!r}"
            )
        if known is None and not event.model_name:
            raise InvalidMessage("RetrainRequested names neither a known dataset_id nor a model_name")
        model_name = event.model_name or model_name_of(known)  # type: ignore[arg-type]
        newest = ports.state.latest_dataset(model_name)
        if newest is None:
            raise InvalidMessage(f"no dataset seen for model {model_name!r} (dataset_id {event.dataset_id!r} unknown)")
        if (known is not None and newest.dataset_id == known.dataset_id) \
                or ports.state.trained_on(model_name, newest.dataset_id):
            reason = (f"nothing newer to learn from: the newest data of {model_name} is {newest.name} "
                      f"v{newest.version} ({newest.dataset_id[:12]}), which it was already trained on; a retrain "
                      "needs new labelled production data (labels posted to the monitor) or a new upload")
            run_id = run_id_for(envelope)
            ports.state.run_started(run_id, model_name, newest.dataset_id, Trigger.RETRAIN_REQUESTED)
            await publish_failure(ports, run_id, model_name, newest.dataset_id, TrainingFailure("data", reason))
            return
        await run_training(ports, request_for(newest, Trigger.RETRAIN_REQUESTED, envelope))

    return {ev.DatasetArrived: on_dataset_arrived, ev.RetrainRequested: on_retrain_requested,
            **consent_handlers(ports)}
