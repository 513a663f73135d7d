"""Withdrawal closes its own loop: consent withdrawn, expired or erased -> the runs that learned from the
subject are flagged (TrainingRunsFlagged; the registry flags their versions) -> the models whose newest run
learned from the subject are retrained without those rows.

Retrains wait until withdrawals stop arriving (`consent_settle_seconds`), so a bulk withdrawal of a thousand
subjects retrains each model once, not a thousand times. The wait is a row in the state, so a restart still
retrains; the retrain's run id derives from that row, so a redelivery does not train twice.
An erasure's retrain waits for DatasetErased (the rewritten version), not for the consent record: the old
bytes are deleted, and only the rewrite says where the remaining rows are.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Envelope, HandlerTable, cancel_task

from .handlers import TrainerPorts, run_training
from .training import RunRequest, Trigger, model_name_of

logger = logging.getLogger(__name__)
_RETRAIN_NAMESPACE = uuid.UUID("3d0c9a4e-6f4b-4e0b-8a77-2b1f5d9c6e11")
NOT_VALID = (ev.CONSENT_STATE_WITHDRAWN, ev.CONSENT_STATE_EXPIRED, ev.CONSENT_STATE_ERASED)


async def flag(ports: TrainerPorts, subject_ref: str, purpose: str, state: int, envelope: Envelope,
               retrain: bool) -> None:
    runs = ports.consent.runs_of(subject_ref)
    if not runs:
        return
    records = [r for r in (ports.state.run(run_id) for run_id in runs) if r and r["status"] == "trained"]
    newest = {m: ports.state.newest_trained_run(m) for m in {r["model_name"] for r in records}}
    stale = sorted(m for m, run_id in newest.items() if run_id and ports.consent.learned_from(run_id, subject_ref))
    if retrain:
        for model in stale:
            ports.consent.want_retrain(model, envelope.id, f"consent {ev.ConsentState.Name(state).lower()}")
    await ports.publisher.publish(ev.TrainingRunsFlagged(
        subject_ref=subject_ref, purpose=purpose, state=state,  # type: ignore[arg-type]
        runs=[ev.RunRef(model_name=r["model_name"], run_id=r["run_id"]) for r in records],
        retrain_models=stale if retrain else []), subject=subject_ref)
    logger.info("subject %s: %d run(s) flagged, retraining %s", subject_ref, len(records), stale or "none")


def handlers(ports: TrainerPorts) -> HandlerTable:
    async def on_consent_changed(event: ev.ConsentChanged, envelope: Envelope) -> None:
        applied = ports.consent.apply(event.subject_ref, event.purpose, event.state, event.expires_at_ms,
                                      event.recorded_at_ms)
        if applied and event.purpose == "training" and event.state in NOT_VALID:
            await flag(ports, event.subject_ref, event.purpose, event.state, envelope,
                       retrain=event.state != ev.CONSENT_STATE_ERASED)

    async def on_dataset_erased(event: ev.DatasetErased, envelope: Envelope) -> None:
        old = ports.state.dataset(event.old_dataset_id)
        model = model_name_of(old) if old else model_name_of(event.dataset)
        ports.state.replace_dataset(event.old_dataset_id, event.dataset, model)
        for ref in event.subject_refs:
            ports.consent.apply(ref, "training", ev.CONSENT_STATE_ERASED, 0, envelope_ms(envelope))
            await flag(ports, ref, "training", ev.CONSENT_STATE_ERASED, envelope, retrain=True)

    async def on_model_registered(event: ev.ModelRegistered, envelope: Envelope) -> None:
        ports.consent.registered(event.run_id, event.model_name, event.version)

    return {ev.ConsentChanged: on_consent_changed, ev.DatasetErased: on_dataset_erased,
            ev.ModelRegistered: on_model_registered}


def envelope_ms(envelope: Envelope) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(envelope.time).timestamp() * 1000)


@dataclass
class Retrainer:
    """Runs the retrains withdrawals asked for, once they have settled. A component of the trainer app."""

    ports: TrainerPorts
    settle_seconds: float
    poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="consent retrains")

    async def stop(self) -> None:
        await cancel_task(self._task)

    def problems(self) -> list[str]:
        return ["consent retrain loop stopped"] if self._task is not None and self._task.done() else []

    async def _loop(self) -> None:
        while True:
            await self.run_settled()
            await asyncio.sleep(self.poll_seconds)

    async def run_settled(self) -> int:
        """Retrain every model whose withdrawals have settled; returns how many were retrained."""
        done = 0
        for pending in self.ports.consent.settled_retrains(self.settle_seconds):
            model = pending["model_name"]
            newest = self.ports.state.latest_dataset(model)
            if newest is not None:
                others = tuple(v for v in self.ports.state.versions(newest.name) if v.dataset_id != newest.dataset_id)
                run_id = uuid.uuid5(_RETRAIN_NAMESPACE, f"{model}/{pending['request_id']}").hex
                logger.info("retraining %s without withdrawn subjects (%s)", model, pending["reason"])
                await run_training(self.ports, RunRequest(newest, Trigger.CONSENT_WITHDRAWN, run_id, others))
                done += 1
            self.ports.consent.retrain_done(model, pending["generation"])
        return done
