"""Promotion requests: requested -> gates evaluated -> approvals collected per the policy's quorum -> applied.

Approved (and applied), rejected and expired are final; a new try is a new request. Every state change is an
event, staged in the outbox in the transaction that makes it (see `outbox`). These functions run inside the
registry's one-writer transaction (`Registry._change`); who may decide is `duties`' business, and the alias
itself moves only in `aliases.move`.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import Principal

from . import aliases, consent_rule, duties, gate_input, outbox
from .errors import Closed, Conflict, UnknownAlias
from .gates import GateResult, enforced_pass
from .policies import Policies
from .policy_doc import digest_of
from .tables import (
    OPEN_STATES,
    PRODUCTION,
    Action,
    Approval,
    Decision,
    Evaluation,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
    State,
)

POLICY = "policy"  # who closed a request when no person did


def _who(principal: Principal) -> str:
    return principal.subject


@dataclass
class Promotions:
    policies: Policies

    def file(self, session: Session, model: RegisteredModel, target: ModelVersion, alias: str,
             requester: Principal, reason: str, now: datetime) -> PromotionRequest:
        """A new request, its gates evaluated at once; applied in the same transaction when the policy needs
        no approval, rejected when an enforced gate fails."""
        alias = aliases.canonical(alias)
        policy_row = self.policies.in_force(session)
        compiled = self.policies.compiled(policy_row)
        document = compiled.document
        if alias not in document.aliases:
            raise UnknownAlias(f"alias {alias!r} is not governed by policy v{policy_row.version} "
                               f"({document.name}), which knows: {', '.join(sorted(document.aliases))}; "
                               "ask for one of those, or publish a policy that names it")
        current = aliases.holder(session, model.name, alias)
        if current is not None and current.version == target.version:
            raise Conflict(f"{model.name} v{target.version} is already {alias}")
        for open_request in aliases.open_requests(session, model.name, alias):
            if open_request.version == target.version:
                raise Conflict(f"request {open_request.id} for {model.name} v{target.version} -> {alias} is "
                               f"already open ({open_request.state}); approve or reject it")
        tier = model.risk_tier or document.default_risk_tier
        alias_policy = document.aliases[alias]
        needed = alias_policy.quorum[tier]  # type: ignore[index]
        request = PromotionRequest(
            id=str(uuid.uuid4()), model_name=model.name, version=target.version, alias=alias,
            requested_by=_who(requester), requested_role=requester.role, reason=reason,
            champion_version=None if current is None else current.version, risk_tier=tier,
            policy_version=policy_row.version, policy_digest=policy_row.digest, approvals_required=needed.approvals,
            required_roles=list(needed.roles), policy_publisher=policy_row.published_by, author=target.author,
            created_at=now, expires_at=now + timedelta(hours=alias_policy.expires_after_hours))
        session.add(request)
        session.flush()  # before its evaluation and votes, which refer to it
        outbox.add(session, ev.PromotionRequested(
            request_id=request.id, model_name=model.name, version=target.version, alias=alias,
            champion_version=request.champion_version or 0, requested_by=request.requested_by, reason=reason,
            expires_at=request.expires_at.isoformat()), model.name, request.id)
        champion_flagged = current is not None and consent_rule.flagged_subjects(session, current.run_id) > 0
        consent = gate_input.consent_of(consent_rule.flagged_subjects(session, target.run_id), champion_flagged)
        data = gate_input.build(model, target, current, alias, tier, document, consent)
        results = compiled.evaluate(alias, data)
        self._record(session, request, data, results, now)
        if not enforced_pass(results):
            failed = [r.message for r in results if r.mode == "enforce" and not r.passed]
            self._close(session, request, State.REJECTED, POLICY, failed, now)
            self._decline(session, model, target, current, request, POLICY, [*failed, *_warnings(results)], now)
            return request
        request.state = State.PENDING
        if needed.approvals == 0:
            self._apply(session, model, target, request, POLICY, now)
        return request

    def approve(self, session: Session, request: PromotionRequest, actor: Principal, comment: str,
                now: datetime) -> PromotionRequest:
        self._still_open(session, request, now)
        duties.check_decider(request, actor, "approve")
        if session.exec(select(Approval.id).where(Approval.request_id == request.id,
                                                  Approval.approver == actor.subject)).first() is not None:
            raise Conflict(f"{actor.subject} approved request {request.id} already; a quorum counts people")
        session.add(Approval(request_id=request.id, approver=actor.subject, role=actor.role, comment=comment, at=now))
        session.flush()
        votes = duties.votes_of(session, request.id)
        met, _ = duties.quorum(request, votes)
        outbox.add(session, ev.PromotionApprovalRecorded(
            request_id=request.id, model_name=request.model_name, version=request.version, alias=request.alias,
            approver=actor.subject, role=actor.role, approvals=len({v.approver for v in votes}),
            approvals_required=request.approvals_required, comment=comment), request.model_name, request.id)
        if met:
            model = session.get(RegisteredModel, request.model_name)
            target = _version(session, request)
            assert model is not None and target is not None  # a request's foreign keys
            self._apply(session, model, target, request, actor.subject, now)
        return request

    def reject(self, session: Session, request: PromotionRequest, actor: Principal, reason: str,
               now: datetime) -> PromotionRequest:
        self._still_open(session, request, now)
        duties.check_decider(request, actor, "reject")
        reasons = [f"rejected by {actor.subject}: {reason}"]
        self._close(session, request, State.REJECTED, actor.subject, reasons, now)
        model = session.get(RegisteredModel, request.model_name)
        target = _version(session, request)
        assert model is not None and target is not None
        self._decline(session, model, target, aliases.holder(session, model.name, request.alias), request,
                      actor.subject, reasons, now)
        return request

    def expire_due(self, session: Session, now: datetime) -> list[PromotionRequest]:
        due = session.exec(select(PromotionRequest).where(
            PromotionRequest.state.in_(OPEN_STATES), PromotionRequest.expires_at <= now)).all()  # type: ignore[attr-defined]
        for request in due:
            self._close(session, request, State.EXPIRED, "registry",
                        [f"no quorum by {request.expires_at.isoformat(timespec='seconds')}"], now)
        return list(due)

    def _still_open(self, session: Session, request: PromotionRequest, now: datetime) -> None:
        if request.state in OPEN_STATES and request.expires_at <= now:
            self.expire_due(session, now)
        if request.state not in OPEN_STATES:
            raise Closed(f"request {request.id} is {request.state} ({'; '.join(request.close_reasons)}); a closed "
                         "request never changes: file a new request")

    def _record(self, session: Session, request: PromotionRequest, data: dict[str, Any],
                results: tuple[GateResult, ...], now: datetime) -> Evaluation:
        gates = [r.as_json() for r in results]
        digest = gate_input.input_digest(data)
        evidence = digest_of({"input": data, "gates": gates, "policy_digest": request.policy_digest})
        evaluation = Evaluation(request_id=request.id, policy_version=request.policy_version or 0,
                                policy_digest=request.policy_digest, input=data, input_digest=digest, results=gates,
                                passed=enforced_pass(results), evidence_digest=evidence, at=now)
        session.add(evaluation)
        outbox.add(session, ev.PromotionGatesEvaluated(
            request_id=request.id, model_name=request.model_name, version=request.version, alias=request.alias,
            policy_version=request.policy_version or 0, policy_digest=request.policy_digest, input_digest=digest,
            evidence_digest=evidence, passed=evaluation.passed, risk_tier=request.risk_tier,
            approvals_required=request.approvals_required,
            gates=[ev.GateResult(rule=r.rule, mode=r.mode, passed=r.passed, message=r.message) for r in results]),
            request.model_name, request.id)
        return evaluation

    def _apply(self, session: Session, model: RegisteredModel, target: ModelVersion, request: PromotionRequest,
               closed_by: str, now: datetime) -> Decision:
        """Quorum met: move the alias, close the request approved, expire what the move made stale."""
        evaluation = latest_evaluation(session, request.id)
        votes = duties.votes_of(session, request.id)
        approvers = list(dict.fromkeys(v.approver for v in votes))
        allowed = (f"allowed by policy v{request.policy_version} ({request.policy_digest[:12]}), risk tier "
                   f"{request.risk_tier}: " + (f"approved by {', '.join(approvers)}" if approvers
                                               else "no approval needed"))
        gates = [] if evaluation is None else evaluation.results
        reasons = [g["message"] for g in gates if g["mode"] == "enforce"] + _warnings_of(gates) + [allowed]
        request.state = State.APPROVED  # before the move: authorize_move reads it
        decision = aliases.move(session, model, request.alias, target, request, Action.PROMOTE, closed_by, reasons,
                                approvers, now)
        self._close(session, request, State.APPROVED, closed_by, [allowed], now)
        for stale in aliases.open_requests(session, model.name, request.alias):
            if stale.id != request.id:
                self._close(session, stale, State.EXPIRED, "registry",
                            [f"superseded: {request.alias} moved to v{target.version} (request {request.id})"], now)
        return decision

    @staticmethod
    def _close(session: Session, request: PromotionRequest, state: State, closed_by: str, reasons: list[str],
               now: datetime) -> None:
        request.state, request.closed_by, request.close_reasons, request.closed_at = state, closed_by, reasons, now
        session.add(request)
        outbox.add(session, ev.PromotionClosed(
            request_id=request.id, model_name=request.model_name, version=request.version, alias=request.alias,
            state=state.value, closed_by=closed_by, reasons=reasons, policy_digest=request.policy_digest),
            request.model_name, request.id)

    @staticmethod
    def _decline(session: Session, model: RegisteredModel, target: ModelVersion, current: ModelVersion | None,
                 request: PromotionRequest, decided_by: str, reasons: list[str], now: datetime) -> None:
        """Record that the alias kept what it had; production's is announced as PromotionDeclined too."""
        event_id = ""
        if request.alias == PRODUCTION:
            target.stage = "declined" if target.stage == "candidate" else target.stage
            kept = 0 if current is None else current.version
            staged = outbox.add(session, ev.PromotionDeclined(
                model_name=model.name, version=target.version, champion_version=kept, reasons=reasons),
                model.name, request.id)
            event_id = staged.event_id
        session.add(Decision(model_name=model.name, version=target.version, action=Action.DECLINE,
                             previous_version=None if current is None else current.version, reasons=reasons,
                             decided_by=decided_by, alias=request.alias, request_id=request.id,
                             policy_version=request.policy_version, policy_digest=request.policy_digest,
                             event_id=event_id, at=now))


def _warnings(results: tuple[GateResult, ...]) -> list[str]:
    return _warnings_of([r.as_json() for r in results])


def _warnings_of(gates: list[dict[str, Any]]) -> list[str]:
    return [f"warning: {g['message']}" for g in gates if g["mode"] == "warn" and not g["passed"]]


def _version(session: Session, request: PromotionRequest) -> ModelVersion | None:
    return session.exec(select(ModelVersion).where(ModelVersion.model_name == request.model_name,
                                                   ModelVersion.version == request.version)).first()


def latest_evaluation(session: Session, request_id: str) -> Evaluation | None:
    return session.exec(select(Evaluation).where(Evaluation.request_id == request_id)
                        .order_by(Evaluation.id.desc())).first()  # type: ignore[union-attr]
