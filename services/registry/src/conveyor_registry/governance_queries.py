"""Read-only views of promotion requests, policy versions, recorded evaluations and "what served when"."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from . import duties
from .errors import NotFound
from .gates import CompiledPolicy
from .policies import Policies
from .policy_doc import PolicyDocument, digest_of
from .promotions import latest_evaluation
from .schemas import (
    ApprovalPublic,
    EvidencePublic,
    FlipPublic,
    GatePublic,
    PolicyPublic,
    PromotionPublic,
    ReplayPublic,
    ServedPublic,
)
from .tables import Action, Approval, Decision, Evaluation, OutboxEvent, PolicyVersion, PromotionRequest

MOVES = (Action.PROMOTE, Action.MANUAL_PROMOTE, Action.ROLLBACK)


def event_ids(session: Session, request_id: str) -> list[str]:
    rows = session.exec(select(OutboxEvent.event_id).where(OutboxEvent.request_id == request_id)
                        .order_by(OutboxEvent.id)).all()  # type: ignore[arg-type]
    return list(rows)


def promotion(session: Session, request: PromotionRequest) -> PromotionPublic:
    approvals = session.exec(select(Approval).where(Approval.request_id == request.id).order_by(Approval.id)).all()
    _, where = duties.quorum(request, duties.votes_of(session, request.id))
    evaluation = latest_evaluation(session, request.id)
    return PromotionPublic(
        **request.model_dump(exclude={"policy_publisher", "author", "requested_role"}),
        quorum=where, approvals=[ApprovalPublic(approver=a.approver, role=a.role, comment=a.comment, at=a.at)
                                 for a in approvals],
        evidence=None if evaluation is None else evidence(evaluation), event_ids=event_ids(session, request.id))


def evidence(evaluation: Evaluation) -> EvidencePublic:
    data = evaluation.input
    metric = data["metric"]
    return EvidencePublic(
        policy_version=evaluation.policy_version, policy_digest=evaluation.policy_digest,
        input_digest=evaluation.input_digest, evidence_digest=evaluation.evidence_digest, passed=evaluation.passed,
        gates=[GatePublic(**g) for g in evaluation.results],
        comparison={"metric": metric["name"], "lower_is_better": metric["lower_is_better"],
                    "champion_version": data["champion"]["version"] or None,
                    "champion": metric["champion"] if metric["champion_measured"] else None,
                    "challenger_version": data["candidate"]["version"],
                    "challenger": metric["candidate"] if metric["measured"] else None,
                    "same_rows": data["holdout"]["same_rows"], "rows": data["holdout"]["rows"],
                    "on": data["holdout"]["description"], "champion_metrics": data["holdout"]["champion"],
                    "challenger_metrics": data["holdout"]["candidate"]},
        fairness=data["fairness"], input=data)


def list_promotions(session: Session, model_name: str, state: str | None) -> list[PromotionPublic]:
    query = select(PromotionRequest).where(PromotionRequest.model_name == model_name)
    if state:
        query = query.where(PromotionRequest.state == state)
    rows = session.exec(query.order_by(PromotionRequest.created_at)).all()  # type: ignore[arg-type]
    return [promotion(session, r) for r in rows]


def get_promotion(session: Session, model_name: str, request_id: str) -> PromotionPublic:
    request = session.get(PromotionRequest, request_id)
    if request is None or request.model_name != model_name:
        raise NotFound(f"model {model_name!r} has no promotion request {request_id!r}")
    return promotion(session, request)


def policy_public(row: PolicyVersion) -> PolicyPublic:
    return PolicyPublic(version=row.version, digest=row.digest, published_by=row.published_by,
                        published_at=row.published_at, note=row.note, event_id=row.event_id, document=row.document)


def policy_versions(session: Session) -> list[PolicyPublic]:
    return [policy_public(r) for r in session.exec(select(PolicyVersion).order_by(PolicyVersion.version)).all()]


def replay(session: Session, policies: Policies, under: CompiledPolicy | None) -> ReplayPublic:
    """Re-evaluate every recorded evaluation from its stored input: under the policy it was recorded with
    (`under` None: a replay must give the same results), or under a draft (what would flip)."""
    results = []
    for evaluation in session.exec(select(Evaluation).order_by(Evaluation.id)).all():
        request = session.get(PromotionRequest, evaluation.request_id)
        assert request is not None
        policy = under or policies.compiled(_policy_by_digest(session, evaluation.policy_digest))
        fresh = [r.as_json() for r in policy.evaluate(request.alias, evaluation.input)]
        recorded = {g["rule"]: g for g in evaluation.results}
        now = {g["rule"]: g for g in fresh}
        changed = [{"rule": name, "recorded": recorded.get(name, {}).get("passed"),
                    "draft": now.get(name, {}).get("passed"),
                    "message": now.get(name, recorded.get(name, {})).get("message", "")}
                   for name in dict.fromkeys([*recorded, *now])
                   if (recorded.get(name, {}).get("passed"), recorded.get(name, {}).get("message")) !=
                   (now.get(name, {}).get("passed"), now.get(name, {}).get("message"))]
        passed = all(g["passed"] for g in fresh if g["mode"] == "enforce")
        results.append(FlipPublic(request_id=request.id, model_name=request.model_name, version=request.version,
                                  alias=request.alias, policy_version=evaluation.policy_version,
                                  recorded_passed=evaluation.passed, draft_passed=passed,
                                  flipped=passed != evaluation.passed, rules=changed))
    digest = digest_of(under.document.as_json()) if under is not None else ""
    return ReplayPublic(draft_digest=digest, evaluations=len(results), flips=sum(r.flipped for r in results),
                        results=results)


def _policy_by_digest(session: Session, digest: str) -> PolicyVersion:
    row = session.exec(select(PolicyVersion).where(PolicyVersion.digest == digest)).first()
    if row is None:
        raise NotFound(f"no policy version has digest {digest}")
    return row


def served_at(session: Session, model_name: str, alias: str, at: datetime) -> ServedPublic:
    """The move in force at `at`, who asked and approved it, under which policy, and the events behind it."""
    moves = session.exec(select(Decision).where(
        Decision.model_name == model_name, Decision.alias == alias, Decision.at <= at,
        Decision.action.in_(MOVES)).order_by(Decision.id.desc())).all()  # type: ignore[attr-defined,union-attr]
    empty: dict[str, Any] = {"model_name": model_name, "alias": alias, "at": at}
    if not moves:
        return ServedPublic(**empty, version=None, since=None, action=None, decided_by=None, requested_by=None,
                            approvers=[], policy_version=None, policy_digest=None, reasons=[], request_id=None,
                            event_ids=[])
    move = moves[0]
    # a rollback returns to a version that an earlier approved request put there: that request backs it
    origin = move if move.request_id else next(
        (m for m in moves if m.version == move.version and m.request_id), None)
    request = None if origin is None or origin.request_id is None else session.get(PromotionRequest,
                                                                                   origin.request_id)
    ids = [move.event_id] if move.event_id else []
    approvers: list[str] = []
    policy = None
    if request is not None:
        ids += [i for i in event_ids(session, request.id) if i not in ids]
        approvers = [v.approver for v in duties.votes_of(session, request.id)]
        policy = _policy_by_digest(session, request.policy_digest)
        if policy.event_id:
            ids.append(policy.event_id)
    return ServedPublic(**empty, version=move.version, since=move.at, action=move.action, decided_by=move.decided_by,
                        requested_by=None if request is None else request.requested_by, approvers=approvers,
                        policy_version=None if policy is None else policy.version,
                        policy_digest=None if policy is None else policy.digest, reasons=move.reasons,
                        request_id=None if request is None else request.id, event_ids=ids)


def draft(document: PolicyDocument) -> CompiledPolicy:
    return CompiledPolicy(document)

