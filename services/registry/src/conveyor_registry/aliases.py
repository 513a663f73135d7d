"""Protected aliases and the one function that moves them.

`production` is the alias serving follows: the version it points at is the model's champion (stage
"champion", `champion_version` in the API), and its moves are announced as ModelPromoted, which serving and
the monitor consume. Any other alias the policy governs (`staging` by default, or one a policy adds) moves
with an AliasMoved. "champion" is read as "production" wherever a client names an alias.
"""

from datetime import datetime

from sqlmodel import Session, select

from . import duties, mapping, outbox
from .tables import (
    OPEN_STATES,
    PRODUCTION,
    Action,
    Alias,
    Decision,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
    Stage,
)

SYNONYMS = {"champion": PRODUCTION}


def canonical(alias: str) -> str:
    name = alias.strip().lower()
    return SYNONYMS.get(name, name)


def holder(session: Session, model_name: str, alias: str) -> ModelVersion | None:
    row = session.get(Alias, (model_name, alias))
    if row is None:
        return None
    return session.exec(select(ModelVersion).where(ModelVersion.model_name == model_name,
                                                   ModelVersion.version == row.version)).first()


def move(session: Session, model: RegisteredModel, alias: str, target: ModelVersion,
         request: PromotionRequest | None, action: Action, decided_by: str, reasons: list[str],
         approvers: list[str], now: datetime) -> Decision:
    """Point `alias` at `target`, in the caller's transaction, with the decision and its event staged in the
    same transaction. The only writer of Alias rows; refuses (duties.Forbidden) what separation of duties
    does not back. `request` None is a rollback. `now` is the registry's clock, the same one the votes were
    recorded by, so "what served when" and the votes before a move agree."""
    duties.authorize_move(session, model.name, alias, target.version, request)
    current = holder(session, model.name, alias)
    if alias == PRODUCTION:
        if current is not None:
            current.stage = Stage.ARCHIVED
        target.stage = Stage.CHAMPION
    row = session.get(Alias, (model.name, alias))
    if row is None:
        session.add(Alias(model_name=model.name, alias=alias, version=target.version))
    else:
        row.version = target.version
    previous = None if current is None else current.version
    request_id = None if request is None else request.id
    digest = "" if request is None else request.policy_digest
    if alias == PRODUCTION:
        event = mapping.promoted_event(model, target, previous, Action.ROLLBACK if request is None else Action.PROMOTE,
                                       decided_by, reasons)
        event.alias, event.request_id, event.policy_digest = alias, request_id or "", digest
        event.policy_version = 0 if request is None or request.policy_version is None else request.policy_version
        event.requested_by = "" if request is None else request.requested_by
        event.approvers.extend(approvers)
    else:
        event = mapping.alias_moved_event(model.name, alias, target.version, previous, request_id or "", digest)
    staged = outbox.add(session, event, model.name, request_id)
    decision = Decision(model_name=model.name, version=target.version, action=action, previous_version=previous,
                        reasons=reasons, decided_by=decided_by, alias=alias, request_id=request_id,
                        policy_version=None if request is None else request.policy_version, policy_digest=digest,
                        event_id=staged.event_id, at=now)
    session.add(decision)
    return decision


def open_requests(session: Session, model_name: str, alias: str) -> list[PromotionRequest]:
    return list(session.exec(select(PromotionRequest).where(
        PromotionRequest.model_name == model_name, PromotionRequest.alias == alias,
        PromotionRequest.state.in_(OPEN_STATES))).all())  # type: ignore[attr-defined]
