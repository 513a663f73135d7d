"""The promotion policy's consent rule: a version trained on a subject whose consent for training was
withdrawn, expired or erased is never newly promoted (not by the policy, not by hand, not by a rollback).
A flagged champion keeps serving until its retrain passes the policy's gates: the retrain is then judged
on the gates alone, not against the flagged champion's numbers, which were earned on rows it had no right to.

Flags arrive as TrainingRunsFlagged from the trainer (by run id), so a flag may come before its run is
registered; each newly flagged registered version is announced as ModelVersionFlagged.
The count is the policy's `consent` input (gate_input.consent_of): the default policy's `consent_valid` gate
declines a flagged version, and a flagged champion is judged on the gates alone; `Registry` refuses a flagged
version by hand and by rollback whatever the policy in force says.
"""

from sqlmodel import Session, func, select

from conveyor.events.v1 import events_pb2 as ev

from .tables import ConsentFlag, ModelVersion

STATE_NAMES = {ev.CONSENT_STATE_WITHDRAWN: "withdrawn", ev.CONSENT_STATE_EXPIRED: "expired",
               ev.CONSENT_STATE_ERASED: "erased"}


def flagged_subjects(session: Session, run_id: str) -> int:
    return session.exec(select(func.count()).select_from(ConsentFlag).where(ConsentFlag.run_id == run_id)).one()


def refusal(version: ModelVersion, subjects: int) -> str:
    return (f"consent: v{version.version} was trained on {subjects} subject(s) whose consent for training is "
            "no longer valid; a flagged version is never newly promoted (its retrain without those rows is)")


def record(session: Session, event: ev.TrainingRunsFlagged) -> list[tuple[ModelVersion, bool]]:
    """Store the flags; return the registered versions newly flagged, each with whether it is the champion."""
    state = STATE_NAMES.get(event.state, "withdrawn")
    newly: list[tuple[ModelVersion, bool]] = []
    for run in event.runs:
        if session.get(ConsentFlag, (run.run_id, event.subject_ref)) is not None:
            continue
        first = flagged_subjects(session, run.run_id) == 0
        session.add(ConsentFlag(run_id=run.run_id, subject_ref=event.subject_ref, model_name=run.model_name,
                                state=state))
        version = session.exec(select(ModelVersion).where(ModelVersion.run_id == run.run_id)).first()
        if version is not None and first:
            newly.append((version, version.stage == "champion"))
    return newly


def flagged_event(version: ModelVersion, champion: bool, subject_ref: str, state: int) -> ev.ModelVersionFlagged:
    reason = (f"trained on subject {subject_ref} whose consent for training is "
              f"{STATE_NAMES.get(state, 'withdrawn')}"
              + ("; it keeps serving until its retrain passes the gates" if champion else ""))
    return ev.ModelVersionFlagged(model_name=version.model_name, version=version.version, run_id=version.run_id,
                                  reason=reason, subject_ref=subject_ref, state=state,  # type: ignore[arg-type]
                                  champion=champion)

