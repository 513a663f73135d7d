"""Separation of duties: the one place that decides who may approve or reject a promotion, when a quorum is
met, and whether a protected alias may move. Every path that moves an alias (the retrain loop's ModelTrained,
REST, the CLI over REST, a redelivered event, an admin's token) reaches `Registry._move_alias`, which calls
`authorize_move` first; a request's votes are re-read from the database there, never taken from the caller.

The rules (roles as tokens carry them):
- only a manager or a technology leader approves or rejects (an admin, an auditor, a data scientist never);
- never the person who requested the promotion, never the model's author (the data's uploader);
- one vote per person; a quorum counts distinct people;
- a quorum's `roles` must each be among the approvers (high risk: a manager and a technology leader);
- a technology leader is never the sole approver under a policy they published: their vote is recorded,
  and the quorum waits for someone else's too;
- a move needs an approved request whose gates passed and whose recorded votes meet its quorum (0 votes when
  the policy promotes on its own), or is a rollback to a version the alias held before.
"""

from dataclasses import dataclass

from sqlmodel import Session, select

from conveyor_kernel import Principal
from conveyor_kernel.identity import MANAGER, TECH_LEADER, Kind

from .errors import Forbidden
from .tables import Action, Approval, Decision, Evaluation, PromotionRequest, State

APPROVERS = (MANAGER, TECH_LEADER)


@dataclass(frozen=True)
class Vote:
    approver: str
    role: str


def check_decider(request: PromotionRequest, actor: Principal, act: str) -> None:
    """Raise Forbidden, saying why, unless `actor` may approve or reject `request`."""
    if actor.kind is not Kind.USER or actor.role not in APPROVERS:
        raise Forbidden(f"to {act} a promotion needs the role manager or tech_leader; {actor.subject} carries "
                        f"{actor.role or actor.kind.value}")
    if actor.subject == request.requested_by:
        raise Forbidden(f"{actor.subject} requested this promotion and may not {act} it: another manager or "
                        "technology leader must")
    if request.author and actor.subject == request.author:
        raise Forbidden(f"{actor.subject} is the author of {request.model_name} v{request.version} and may not "
                        f"{act} its promotion")


def quorum(request: PromotionRequest, votes: list[Vote]) -> tuple[bool, str]:
    """Whether `votes` meet the request's quorum, and a sentence saying where it stands."""
    people = {v.approver: v.role for v in votes}
    need = request.approvals_required
    missing_roles = [r for r in request.required_roles if r not in people.values()]
    if len(people) < need:
        return False, f"{len(people)} of {need} approval(s)"
    if missing_roles:
        return False, f"{len(people)} of {need} approval(s); still needs a {' and a '.join(missing_roles)}"
    if need and request.policy_publisher and set(people) == {request.policy_publisher}:
        return False, (f"{request.policy_publisher} published the policy in force and is never the sole approver "
                       "under it: another approval is needed")
    return True, f"quorum met: {len(people)} of {need} approval(s)" if need else "no approval needed by the policy"


def votes_of(session: Session, request_id: str) -> list[Vote]:
    rows = session.exec(select(Approval).where(Approval.request_id == request_id).order_by(Approval.id)).all()
    return [Vote(r.approver, r.role) for r in rows if r.role in APPROVERS]


def authorize_move(session: Session, model_name: str, alias: str, version: int,
                   request: PromotionRequest | None) -> None:
    """Raise Forbidden unless moving `alias` of `model_name` to `version` is backed as the rules say."""
    if request is None:
        held = session.exec(select(Decision.id).where(
            Decision.model_name == model_name, Decision.alias == alias, Decision.version == version,
            Decision.action.in_((Action.PROMOTE, Action.MANUAL_PROMOTE)))).first()  # type: ignore[attr-defined]
        if held is None:
            raise Forbidden(f"{alias} of {model_name} never held v{version}: a rollback only returns to a version "
                            "the alias held before; anything else needs a promotion request")
        return
    if (request.model_name, request.alias, request.version) != (model_name, alias, version):
        raise Forbidden(f"request {request.id} is for {request.alias} -> v{request.version}, not {alias} -> "
                        f"v{version}")
    if request.state not in (State.PENDING, State.APPROVED):
        raise Forbidden(f"request {request.id} is {request.state}; only a request whose gates passed can apply")
    evaluation = session.exec(select(Evaluation).where(Evaluation.request_id == request.id)
                              .order_by(Evaluation.id.desc())).first()  # type: ignore[union-attr]
    if evaluation is None or not evaluation.passed:
        raise Forbidden(f"request {request.id} has no passing evaluation of the policy's gates")
    met, where = quorum(request, votes_of(session, request.id))
    if not met:
        raise Forbidden(f"request {request.id}: {where}")
