"""The registry's state changes: who is each model's champion, and why. Each change is a single DB
transaction that publishes before it commits: a failed publish rolls the change back (REST answers 503,
the consumer retries), so no version or champion change exists that the rest of the platform was not told
about.

DB calls run directly on the event loop rather than in threads: SQLite answers in well under a
millisecond here and the transaction must stay open across the awaited publish, which would mean
handing one connection between threads. An asyncio.Lock serialises writers, so a second writer never
blocks the loop waiting for SQLite's write lock while the first awaits Kafka.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from conveyor.events.v1 import events_pb2 as ev
from conveyor_kernel import InvalidMessage, Publisher, TransientError

from . import consent_rule, mapping, traffic
from .errors import ChangeNotMade, Conflict, NotFound
from .metrics import RegistryMetrics
from .policy import Limits, evaluate
from .tables import CHAMPION, Action, Alias, Decision, ModelVersion, RegisteredModel, Stage

logger = logging.getLogger(__name__)
POLICY = "policy"  # who decided, when no person did


def champion_of(session: Session, model_name: str) -> ModelVersion | None:
    alias = session.get(Alias, (model_name, CHAMPION))
    return None if alias is None else find_version(session, model_name, alias.version)


def find_version(session: Session, model_name: str, version: int) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.model_name == model_name, ModelVersion.version == version)
    return session.exec(query).first()


def champion_lineage(decisions: list[Decision]) -> list[int]:
    """Replay champion changes as a stack: promotions push, a rollback pops back to what it restored.
    The top is the champion; the entry below it is where a rollback goes."""
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
    limits: Limits = field(default_factory=Limits)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def register(self, event: ev.ModelTrained) -> ModelVersion | None:
        """Register a trained model and apply the policy; None when this run was registered before."""
        row = mapping.version_from_trained(event)
        task = mapping.task_name(event.task)
        async with self._lock:
            with Session(self.engine, expire_on_commit=False) as session:
                if session.exec(select(ModelVersion.id).where(ModelVersion.run_id == row.run_id)).first():
                    logger.info("run %s of %s is already registered; ignoring", row.run_id, row.model_name)
                    return None
                model = session.get(RegisteredModel, row.model_name)
                if model is None:
                    model = RegisteredModel(name=row.model_name, task=task)
                    session.add(model)
                elif model.task != task:
                    raise InvalidMessage(
                        f"ModelTrained.task is {task} but model {model.name!r} is a {model.task} model"
                    )
                latest = session.exec(
                    select(func.max(ModelVersion.version)).where(ModelVersion.model_name == row.model_name)
                ).one()
                row.version = (latest or 0) + 1
                session.add(row)
                session.flush()
                champion = champion_of(session, row.model_name)
                flagged = consent_rule.flagged_subjects(session, row.run_id)
                champion_flagged = champion is not None and consent_rule.flagged_subjects(session, champion.run_id) > 0
                if champion is not None and champion_flagged:
                    verdict = consent_rule.judged_on_gates(row.primary_metric, mapping.contender(row), champion,
                                                           self.limits)
                else:
                    verdict = evaluate(row.primary_metric, mapping.contender(row),
                                       None if champion is None else mapping.contender(champion), self.limits)
                reasons = list(verdict.reasons)
                if flagged:
                    reasons = [consent_rule.refusal(row, flagged)]
                outcome: ev.ModelPromoted | ev.PromotionDeclined
                if verdict.promote and not flagged:
                    decision = self._crown(session, row, champion, Action.PROMOTE, POLICY, reasons)
                    outcome = mapping.promoted_event(model, row, decision.previous_version, Action.PROMOTE,
                                                     POLICY, reasons)
                else:
                    assert champion is not None or flagged  # the policy always promotes when there is none
                    previous = None if champion is None else champion.version
                    row.stage = Stage.DECLINED
                    decision = Decision(model_name=row.model_name, version=row.version, action=Action.DECLINE,
                                        previous_version=previous, reasons=reasons, decided_by=POLICY)
                    session.add(decision)
                    outcome = mapping.declined_event(row, previous or 0, reasons)
                session.flush()
                await self.publisher.publish(mapping.registered_event(row), row.model_name)
                await self.publisher.publish(outcome, row.model_name)
                session.commit()
        self.metrics.versions_registered.labels(model=row.model_name).inc()
        self.metrics.promotions.labels(action=decision.action).inc()
        logger.info("registered %s v%d: %s (%s)", row.model_name, row.version, decision.action,
                    "; ".join(reasons))
        return row

    async def flag(self, event: ev.TrainingRunsFlagged) -> list[ev.ModelVersionFlagged]:
        """Record which runs learned from a subject without valid consent; announce the versions newly flagged."""
        async with self._lock:
            with Session(self.engine, expire_on_commit=False) as session:
                announced = [consent_rule.flagged_event(version, champion, event.subject_ref, event.state)
                             for version, champion in consent_rule.record(session, event)]
                session.flush()
                for flagged in announced:
                    await self.publisher.publish(flagged, flagged.model_name)
                session.commit()
        for flagged in announced:
            logger.info("%s v%d flagged: %s", flagged.model_name, flagged.version, flagged.reason)
        return announced

    async def promote(self, model_name: str, version: int, user: str, reason: str) -> Decision:
        """A person makes `version` the champion, whatever the policy said (but never a flagged version)."""
        async with self._change() as session:
            model, target = self._locate(session, model_name, version)
            self._refuse_flagged(session, target)
            champion = champion_of(session, model_name)
            if champion is not None and champion.version == version:
                raise Conflict(f"{model_name} v{version} is already the champion")
            reasons = [f"manual promotion by {user}: {reason}"]
            decision = await self._crown_and_announce(
                session, model, target, champion, Action.MANUAL_PROMOTE, Action.PROMOTE, user, reasons
            )
        self.metrics.promotions.labels(action=Action.MANUAL_PROMOTE).inc()
        logger.info("%s promoted %s v%d by hand", user, model_name, version)
        return decision

    async def rollback(self, model_name: str, user: str, reason: str) -> Decision:
        """Return the champion alias to the champion before the current one."""
        async with self._change() as session:
            model = session.get(RegisteredModel, model_name)
            if model is None:
                raise NotFound(f"model {model_name!r} is not registered")
            history = session.exec(
                select(Decision).where(Decision.model_name == model_name).order_by(Decision.id)
            ).all()
            lineage = champion_lineage(list(history))
            if len(lineage) < 2:
                raise Conflict(f"{model_name} has no previous champion to roll back to")
            champion = champion_of(session, model_name)
            _, target = self._locate(session, model_name, lineage[-2])
            self._refuse_flagged(session, target)
            reasons = [f"rollback by {user} from v{lineage[-1]} to v{target.version}: {reason}"]
            decision = await self._crown_and_announce(
                session, model, target, champion, Action.ROLLBACK, Action.ROLLBACK, user, reasons
            )
        self.metrics.promotions.labels(action=Action.ROLLBACK).inc()
        logger.info("%s rolled %s back to v%d", user, model_name, target.version)
        return decision

    async def set_split(self, model_name: str, mode: str, version: int, weight: float, user: str,
                        reason: str) -> ev.TrafficSplitSet:
        """Split `model_name`'s traffic between its champion and `version` (see `traffic`)."""
        async with self._change() as session:  # one change at a time, like promotions
            model, candidate = self._locate(session, model_name, version)
            event = traffic.split_event(model, candidate, champion_of(session, model_name), mode, weight, user,
                                        reason)
            await self.publisher.publish(event, model_name)
        logger.info("%s set %s traffic of %s: v%d (weight %.2f)", user, mode, model_name, version, weight)
        return event

    async def clear_split(self, model_name: str, user: str, reason: str) -> ev.TrafficSplitSet:
        """End the split: the champion answers everything again."""
        async with self._change() as session:
            champion = champion_of(session, model_name)
            if champion is None:
                raise NotFound(f"model {model_name!r} has no champion")
            event = traffic.cleared_event(champion, user, reason)
            await self.publisher.publish(event, model_name)
        logger.info("%s cleared the traffic split of %s", user, model_name)
        return event

    @asynccontextmanager
    async def _change(self) -> AsyncIterator[Session]:
        """A session for one change a person asked for, under the writers' lock. A fault before the commit
        (the publish, or the database) left nothing committed, so the change is safe to ask for again."""
        try:
            async with self._lock:
                with Session(self.engine, expire_on_commit=False) as session:
                    yield session
        except (TransientError, OperationalError) as exc:
            raise ChangeNotMade(f"change not made, try again: {exc}") from exc

    async def _crown_and_announce(
        self, session: Session, model: RegisteredModel, target: ModelVersion, champion: ModelVersion | None,
        decision_action: Action, event_action: Action, user: str, reasons: list[str],
    ) -> Decision:
        """Record the decision, publish ModelPromoted, and only then commit: a failed publish leaves no state."""
        decision = self._crown(session, target, champion, decision_action, user, reasons)
        session.flush()
        await self.publisher.publish(
            mapping.promoted_event(model, target, decision.previous_version, event_action, user, reasons),
            target.model_name,
        )
        session.commit()
        return decision

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

    @staticmethod
    def _crown(session: Session, row: ModelVersion, champion: ModelVersion | None, action: Action,
               decided_by: str, reasons: list[str]) -> Decision:
        """Point the champion alias at `row`, archive the old champion, record why."""
        if champion is not None:
            champion.stage = Stage.ARCHIVED
        row.stage = Stage.CHAMPION
        alias = session.get(Alias, (row.model_name, CHAMPION))
        if alias is None:
            session.add(Alias(model_name=row.model_name, alias=CHAMPION, version=row.version))
        else:
            alias.version = row.version
        decision = Decision(model_name=row.model_name, version=row.version, action=action,
                            previous_version=None if champion is None else champion.version,
                            reasons=reasons, decided_by=decided_by)
        session.add(decision)
        return decision
