"""The transactional outbox: every event the registry announces is written in the transaction that made it
true (an alias move, a request's new state), and published from that stored record afterwards.

Why an outbox rather than publishing before the commit (as the registry did before approvals): a decision a
manager made must not be lost because the broker was briefly away, and a commit that fails after a publish
would announce a move that never happened. Here the alias and its event commit together or not at all; the
relay then publishes rows in the order they were written, each with the event id, time, principal and trace
context fixed when it was written. Delivery is at least once: a crash between the send and the mark sends the
row again with the same event id, which the ledger deduplicates (its unique index on event ids) and serving
applies idempotently (the same version again).

The relay runs after every change (so the loop's latency is one publish) and every second in the background
(`background.Background`), until Kafka takes what is waiting; `problems()` reports a backlog that has waited
too long.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import Message
from opentelemetry import context, propagate
from sqlalchemy import Engine
from sqlmodel import Session, select

from conveyor_kernel import Principal, Publisher, TransientError, new_event_id, topics
from conveyor_kernel._telemetry import current_trace_headers
from conveyor_kernel.identity import acting_principal

from .tables import OutboxEvent, utcnow

logger = logging.getLogger(__name__)
SERVICE = "registry"
STALE_SECONDS = 30.0


def add(session: Session, event: Message, subject: str, request_id: str | None = None) -> OutboxEvent:
    """Stage `event` for publication in the session's transaction; the principal is fixed now (the verified
    caller of the request being served, else the registry's own account), as is the trace context."""
    if not event.HasField("principal"):
        caller = acting_principal()
        event.principal.CopyFrom((caller or Principal.service(SERVICE)).as_event())  # type: ignore[attr-defined]
    trace = current_trace_headers()
    row = OutboxEvent(event_id=new_event_id(), event_type=topics.type_name(type(event)), subject=subject,
                      payload=event.SerializeToString(),
                      time=datetime.now(UTC).isoformat(timespec="microseconds"),
                      traceparent=trace.get("traceparent", ""), tracestate=trace.get("tracestate", ""),
                      request_id=request_id)
    session.add(row)
    return row


@dataclass
class Relay:
    engine: Engine
    publisher: Publisher
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _oldest_waiting: datetime | None = field(default=None, init=False)

    async def drain(self) -> int:
        """Publish every waiting row in order; stops at the first that Kafka refuses (the order must hold).
        Returns how many went out."""
        sent = 0
        async with self._lock:
            # No transaction stays open while Kafka is awaited: on SQLite every transaction holds the write
            # lock (BEGIN IMMEDIATE), and a publish may take its whole timeout; each row is marked on its own.
            with Session(self.engine, expire_on_commit=False) as session:
                waiting = session.exec(select(OutboxEvent).where(OutboxEvent.published_at == None)  # noqa: E711
                                       .order_by(OutboxEvent.id)).all()
            for row in waiting:
                try:
                    await self._publish(row)
                except TransientError as exc:
                    self._oldest_waiting = self._oldest_waiting or utcnow()
                    logger.warning("outbox: %d event(s) wait for Kafka (%s)", len(waiting) - sent, exc)
                    return sent
                with Session(self.engine) as session:
                    stored = session.get(OutboxEvent, row.id)
                    if stored is not None:
                        stored.published_at = utcnow()
                        session.commit()
                sent += 1
            self._oldest_waiting = None
        return sent

    async def _publish(self, row: OutboxEvent) -> None:
        event = topics.EVENT_TYPES[row.event_type]()
        event.ParseFromString(row.payload)
        carrier = {k: v for k, v in (("traceparent", row.traceparent), ("tracestate", row.tracestate)) if v}
        token = context.attach(propagate.extract(carrier))  # the change's trace, not the relay's
        try:
            await self.publisher.publish(event, row.subject, event_id=row.event_id, time=row.time)
        finally:
            context.detach(token)

    def problems(self) -> list[str]:
        if self._oldest_waiting is not None and (utcnow() - self._oldest_waiting).total_seconds() > STALE_SECONDS:
            return [f"outbox: events waiting for Kafka since {self._oldest_waiting.isoformat(timespec='seconds')}"]
        return []
