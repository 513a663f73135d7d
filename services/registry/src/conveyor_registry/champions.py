"""The registry's state changes: versions, promotion requests and their approvals, protected aliases,
rollbacks, risk tiers, policy versions, traffic splits.

Each change is one database transaction under the writers' lock; what it announces is staged in the outbox in
that transaction and published after the commit (see `outbox`), so an alias moves in the same transaction
that records the decision, and its event is published from that record. A fault before the commit leaves
nothing (REST answers 503, the consumer retries); a broker that is away delays the events, never the decision.

DB calls run directly on the event loop: SQLite answers in well under a millisecond here, and a transaction
never spans an await now that publishing happens after the commit.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import InvalidMessage, Principal, Publisher, TransientError

from . import aliases, consent_rule, mapping, outbox, traffic
from .errors import ChangeNotMade, Conflict, NotFound, UnknownAlias
from .metrics import RegistryMetrics
from .outbox import Relay
from .policies import Policies
from .policy_doc import PolicyDocument
from .promotions import Promotions
from .tables import (
    PRODUCTION,
    Action,
    Decision,
    ModelVersion,
    PolicyVersion,
    PromotionRequest,
    RegisteredModel,
    State,
    utcnow,
)

logger = logging.getLogger(__name__)
RISK_TIERS = ("low", "medium", "high")
SERVICE = Principal.service("registry")


def champion_of(session: Session, model_name: str) -> ModelVersion | None:
    return aliases.holder(session, model_name, PRODUCTION)


def find_version(session: Session, model_name: str, version: int) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.model_name == model_name, ModelVersion.version == version)
    return session.exec(query).first()


def champion_lineage(decisions: list[Decision]) -> list[int]:
    """Replay one alias's moves as a stack: promotions push, a rollback pops back to what it restored.
    The top is what the alias holds; the entry below it is where a rollback goes."""
    stack: list[int] = []
    for decision in decisions:
        if decision.action in (Action.PROMOTE, Action.MANUAL_PROMOTE):
            stack.append(decision.version)
        elif decision.action == Action.ROLLBACK:
            if stack:
                stack.pop()
            if not stack or stack[-1] != decision.version:
                stack.append(decision.version)
    return stack


@dataclass
class Registry:
    engine: Engine
    publisher: Publisher
    metrics: RegistryMetrics
    policies: Policies
    clock: Callable[[], datetime] = utcnow
    broker: Any = None  # the runtime's KafkaPublisher (its `reachable`), None on the in-memory bus
    relay: Relay = field(init=False)
    promotions: Promotions = field(init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.relay = Relay(self.engine, self.publisher)
        self.promotions = Promotions(self.policies)

    async def register(self, event: ev.ModelTrained) -> ModelVersion | None:
        """Register a trained model and file the retrain loop's request to promote it to production (applied
        at once where the policy needs no approval); None when this run was registered before."""
        row = mapping.version_from_trained(event)
        task = mapping.task_name(event.task)
        async with self._change(retryable=False) as session:
            if session.exec(select(ModelVersion.id).where(ModelVersion.run_id == row.run_id)).first():
                logger.info("run %s of %s is already registered; ignoring", row.run_id, row.model_name)
                return None
            model = session.get(RegisteredModel, row.model_name)
            if model is None:
                model = RegisteredModel(name=row.model_name, task=task)
                session.add(model)
            elif model.task != task:
                raise InvalidMessage(f"ModelTrained.task is {task} but model {model.name!r} is a {model.task} model")
            latest = session.exec(
                select(func.max(ModelVersion.version)).where(ModelVersion.model_name == row.model_name)).one()
            row.version = (latest or 0) + 1
            session.add(row)
            session.flush()
            outbox.add(session, mapping.registered_event(row), row.model_name)
            try:
                request = self.promotions.file(session, model, row, PRODUCTION, SERVICE,
                                               f"trained ({event.trigger or 'a new run'})", self.clock())
            except UnknownAlias as exc:  # a policy without production: versions register, nothing is asked
                logger.warning("registered %s v%d without a promotion request: %s", row.model_name, row.version,
                               exc)
                request = None
            session.commit()
        self.metrics.versions_registered.labels(model=row.model_name).inc()
        if request is not None:
            self.metrics.promotions.labels(action=_action_of(request)).inc()
            logger.info("registered %s v%d: request %s %s", row.model_name, row.version, request.id, request.state)
        return row

    async def flag(self, event: ev.TrainingRunsFlagged) -> list[ev.ModelVersionFlagged]:
        """Record which runs learned from a subject without valid consent; announce the versions newly flagged
        (from the outbox, in the transaction that stored the flags)."""
        async with self._change() as session:
            announced = [consent_rule.flagged_event(version, champion, event.subject_ref, event.state)
                         for version, champion in consent_rule.record(session, event)]
            for flagged in announced:
                outbox.add(session, flagged, flagged.model_name)
            session.commit()
        for flagged in announced:
            logger.info("%s v%d flagged: %s", flagged.model_name, flagged.version, flagged.reason)
        return announced

    async def request(self, model_name: str, version: int, alias: str, requester: Principal,
                      reason: str) -> PromotionRequest:
        async with self._change() as session:
            model, target = self._locate(session, model_name, version)
            self._refuse_flagged(session, target)  # the consent rule holds whatever the policy in force says
            request = self.promotions.file(session, model, target, alias, requester, reason, self.clock())
            session.commit()
        logger.info("%s asked for %s v%d -> %s: %s", requester.subject, model_name, version, request.alias,
                    request.state)
        return request

    async def approve(self, model_name: str, request_id: str, actor: Principal, comment: str) -> PromotionRequest:
        async with self._change() as session:
            request = self._request(session, model_name, request_id)
            if self.promotions.expire_due(session, self.clock()):
                session.commit()  # an expiry is final even when what follows is refused
            self.promotions.approve(session, request, actor, comment, self.clock())
            session.commit()
        logger.info("%s approved request %s (%s)", actor.subject, request_id, request.state)
        return request

    async def reject(self, model_name: str, request_id: str, actor: Principal, reason: str) -> PromotionRequest:
        async with self._change() as session:
            request = self._request(session, model_name, request_id)
            if self.promotions.expire_due(session, self.clock()):
                session.commit()  # an expiry is final even when what follows is refused
            self.promotions.reject(session, request, actor, reason, self.clock())
            session.commit()
        logger.info("%s rejected request %s", actor.subject, request_id)
        return request

    async def expire_due(self) -> int:
        async with self._change() as session:
            expired = self.promotions.expire_due(session, self.clock())
            session.commit()
        return len(expired)

    async def rollback(self, model_name: str, user: str, reason: str, alias: str = PRODUCTION) -> Decision:
        """The kill switch: return the alias to the version it held before the current one (a version that
        came there under quorum once); a manager or technology leader, with a reason, ledgered."""
        alias = aliases.canonical(alias)
        async with self._change() as session:
            model = session.get(RegisteredModel, model_name)
            if model is None:
                raise NotFound(f"model {model_name!r} is not registered")
            history = session.exec(select(Decision).where(Decision.model_name == model_name,
                                                          Decision.alias == alias).order_by(Decision.id)).all()
            lineage = champion_lineage(list(history))
            if len(lineage) < 2:
                raise Conflict(f"{alias} of {model_name} has no previous version to roll back to")
            _, target = self._locate(session, model_name, lineage[-2])
            self._refuse_flagged(session, target)
            reasons = [f"rollback by {user} from v{lineage[-1]} to v{target.version}: {reason}"]
            now = self.clock()
            decision = aliases.move(session, model, alias, target, None, Action.ROLLBACK, user, reasons, [], now)
            for stale in aliases.open_requests(session, model_name, alias):
                self.promotions._close(session, stale, State.EXPIRED, "registry",
                                       [f"superseded: {alias} rolled back to v{target.version}"], now)
            session.commit()
        self.metrics.promotions.labels(action=Action.ROLLBACK).inc()
        logger.info("%s rolled %s %s back to v%d", user, model_name, alias, target.version)
        return decision

    async def set_risk_tier(self, model_name: str, tier: str, actor: Principal, reason: str) -> RegisteredModel:
        async with self._change() as session:
            model = session.get(RegisteredModel, model_name)
            if model is None:
                raise NotFound(f"model {model_name!r} is not registered")
            previous = model.risk_tier or self.policies.compiled(self.policies.in_force(session)).document.\
                default_risk_tier
            model.risk_tier = tier
            outbox.add(session, ev.RiskTierSet(model_name=model_name, risk_tier=tier, previous_tier=previous,
                                               set_by=actor.subject, reason=reason), model_name)
            session.commit()
        logger.info("%s set the risk tier of %s to %s", actor.subject, model_name, tier)
        return model

    async def publish_policy(self, document: PolicyDocument, publisher: Principal, note: str) -> PolicyVersion:
        async with self._change() as session:
            row = self.policies.publish(session, document, publisher, note)
            session.commit()
        logger.info("%s published policy v%d (%s)", publisher.subject, row.version, row.digest)
        return row

    async def ensure_policy(self) -> PolicyVersion:
        """The policy in force; publishes the shipped default first on a registry that has none."""
        async with self._change() as session:
            row = self.policies.in_force(session)
            session.commit()
        return row

    async def set_split(self, model_name: str, mode: str, version: int, weight: float, user: str,
                        reason: str) -> ev.TrafficSplitSet:
        """Split `model_name`'s traffic between its champion and `version` (see `traffic`)."""
        async with self._change() as session:  # one change at a time, like promotions
            model, candidate = self._locate(session, model_name, version)
            event = traffic.split_event(model, candidate, champion_of(session, model_name), mode, weight, user,
                                        reason)
            outbox.add(session, event, model_name)
            session.commit()
        logger.info("%s set %s traffic of %s: v%d (weight %.2f)", user, mode, model_name, version, weight)
        return event

    async def clear_split(self, model_name: str, user: str, reason: str) -> ev.TrafficSplitSet:
        """End the split: the champion answers everything again."""
        async with self._change() as session:
            champion = champion_of(session, model_name)
            if champion is None:
                raise NotFound(f"model {model_name!r} has no champion")
            event = traffic.cleared_event(champion, user, reason)
            outbox.add(session, event, model_name)
            session.commit()
        logger.info("%s cleared the traffic split of %s", user, model_name)
        return event

    async def _announce(self) -> None:
        """Publish what the change staged; a broker that is away leaves it for the relay's next pass."""
        await self.relay.drain()

    @asynccontextmanager
    async def _change(self, retryable: bool = True) -> AsyncIterator[Session]:
        """A session for one change, under the writers' lock. A database fault before the commit left nothing
        committed, so the change is safe to ask for again: REST answers 503; the consumer (retryable=False)
        gets a TransientError and retries."""
        if retryable and self.broker is not None and not self.broker.reachable:
            # The outbox would publish it once the broker is back: a caller told 503 would see it applied
            # later (issue 15). With the broker away a person's change is refused, not deferred.
            raise ChangeNotMade("the Kafka broker is unreachable: the change was not made; try again")
        try:
            async with self._lock:
                with Session(self.engine, expire_on_commit=False) as session:
                    yield session
        except OperationalError as exc:
            if not retryable:
                raise TransientError(f"registry database unavailable: {exc}") from exc
            raise ChangeNotMade(f"change not made, try again: {exc}") from exc
        finally:  # what committed (a refused approval may have found an expiry first) goes out now
            await self._announce()

    @staticmethod
    def _request(session: Session, model_name: str, request_id: str) -> PromotionRequest:
        request = session.get(PromotionRequest, request_id)
        if request is None or request.model_name != model_name:
            raise NotFound(f"model {model_name!r} has no promotion request {request_id!r}")
        return request

    @staticmethod
    def _refuse_flagged(session: Session, target: ModelVersion) -> None:
        subjects = consent_rule.flagged_subjects(session, target.run_id)
        if subjects:
            raise Conflict(consent_rule.refusal(target, subjects))

    @staticmethod
    def _locate(session: Session, model_name: str, version: int) -> tuple[RegisteredModel, ModelVersion]:
        model = session.get(RegisteredModel, model_name)
        if model is None:
            raise NotFound(f"model {model_name!r} is not registered")
        row = find_version(session, model_name, version)
        if row is None:
            raise NotFound(f"model {model_name!r} has no version {version}")
        return model, row


def _action_of(request: PromotionRequest) -> str:
    return {State.APPROVED: Action.PROMOTE, State.REJECTED: Action.DECLINE}.get(request.state, "requested")
