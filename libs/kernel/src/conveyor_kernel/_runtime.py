"""The event runtime: what every service runs on the bus, built from its settings.

    runtime = EventRuntime(settings, source="trainer", publishes=[ev.ModelTrained, ev.ModelTrainingFailed])
    ports = TrainerPorts(..., publisher=runtime.publisher)      # the publisher exists from the start
    runtime.subscribe(handlers(ports), group="trainer")         # topics derive from the handler table

A service never lists topics: the ones it consumes come from the event types in its handler table, the
ones it creates from the event types it declares it publishes (`topics.TOPIC_OF` maps both), and every
full name, prefix included, from `KafkaSettings.topic()`. A publish of an undeclared event type is a
ConfigurationError, so the declaration stays the truth (it is what a broker ACL would grant).

With `transport=InMemoryBus()` the same graph runs in unit tests: `deliver()` plays the consumer.
Consumers that are not a plain consumer group (faust in monitor, the ledger's own reader in audit) take
`dispatcher()` and `dead_letters` from here and keep their own loop.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.message import Message

from . import topics
from ._bus import DeadLetters, Dispatcher, HandlerTable, Record
from ._envelope import Envelope
from ._errors import ConfigurationError
from ._identity import Principal, acting_principal
from ._settings import ServiceSettings
from .kafka import KafkaConsumerLoop, KafkaPublisher, ensure_topics
from .memory import InMemoryBus


@dataclass
class _Subscription:
    dispatcher: Dispatcher
    topics: tuple[str, ...]  # base names
    loop: KafkaConsumerLoop | None = None
    position: int = 0  # in-memory transport: the next record to deliver


class _DeclaredPublisher:
    """The runtime's publisher: refuses event types the service did not declare, stamps who caused the event,
    then sends.

    The principal is the verified caller of the request being served (see `acting_principal`), else the
    service's own account: a handler or a timer acts for the service. An event whose principal the domain
    set itself (e.g. one published later from a stored record) keeps it.
    """

    def __init__(self, transport: KafkaPublisher | InMemoryBus, source: str, declared: frozenset[type[Message]]):
        self.transport = transport
        self.source = source
        self.declared = declared
        self.own_account = Principal.service(source).as_event()

    async def publish(self, event: Message, subject: str, *, event_id: str | None = None,
                      time: str | None = None) -> Envelope:
        if type(event) not in self.declared:
            raise ConfigurationError(
                f"{self.source} publishes {topics.type_name(type(event))} without declaring it; add it to "
                "the `publishes` of its EventRuntime"
            )
        if not event.HasField("principal"):  # every event names who caused it (tests/contracts check each has one)
            caller = acting_principal()
            event.principal.CopyFrom(  # type: ignore[attr-defined]
                caller.as_event() if caller is not None else self.own_account)
        if isinstance(self.transport, InMemoryBus):
            return await self.transport.publish(event, subject, event_id=event_id, time=time, source=self.source)
        return await self.transport.publish(event, subject, event_id=event_id, time=time)

    async def send(self, record: Record) -> None:
        await self.transport.send(record)


class EventRuntime:
    def __init__(self, settings: ServiceSettings, source: str, publishes: Iterable[type[Message]] = (),
                 transport: InMemoryBus | None = None, reads: Iterable[str] = ()) -> None:
        """`reads`: base names of topics the service consumes with a reader of its own, outside any handler
        table (the audit ledger's): counted in `subscribed`, so its Kafka grants include them."""
        self.kafka = settings.kafka
        self.source = source
        self.publishes = frozenset(publishes)
        self.memory = transport
        self._kafka_publisher = KafkaPublisher(settings.kafka, source) if transport is None else None
        self.publisher = _DeclaredPublisher(transport or self._kafka_publisher, source,  # type: ignore[arg-type]
                                            self.publishes)
        self.dead_letters = DeadLetters(self.publisher.send, self.topic(topics.DEAD_LETTER))
        self._subscriptions: list[_Subscription] = []
        self._elsewhere: set[str] = set(reads)  # topics the service's own loops consume
        self._started = False

    def topic(self, topic: str | type[Message]) -> str:
        """The full name of a topic on this runtime's transport."""
        return self.memory.topic(topic) if self.memory is not None else self.kafka.topic(topic)

    def dispatcher(self, handlers: HandlerTable, group: str) -> Dispatcher:
        """The kernel's dispatch rule over a handler table, for a consumer loop the service runs itself
        (faust in monitor). The table's topics count as consumed: listed in `subscribed`, created at start."""
        self._elsewhere.update(topics.subscribed_by(handlers))
        return self._dispatcher(handlers, group)

    def _dispatcher(self, handlers: HandlerTable, group: str) -> Dispatcher:
        return Dispatcher(handlers, group=group, max_retries=self.kafka.max_retries,
                          retry_wait=self.kafka.retry_wait,
                          dead_letter_topic=self.topic(topics.DEAD_LETTER))

    def subscribe(self, handlers: HandlerTable, group: str) -> None:
        """Consume the topics `handlers` needs in consumer group `group` (prefixed like topics)."""
        if self._started:
            raise ConfigurationError("subscribe before the runtime starts")
        subscription = _Subscription(self._dispatcher(handlers, group), topics.subscribed_by(handlers))
        if self.memory is None:
            subscription.loop = KafkaConsumerLoop(self.kafka, subscription.topics, subscription.dispatcher,
                                                  self.dead_letters)
        self._subscriptions.append(subscription)

    @property
    def subscribed(self) -> tuple[str, ...]:
        """Base names of every topic this runtime consumes."""
        return tuple(sorted({*self._elsewhere, *(t for s in self._subscriptions for t in s.topics)}))

    @property
    def consumers(self) -> list[KafkaConsumerLoop]:
        return [s.loop for s in self._subscriptions if s.loop is not None]

    def needed_topics(self) -> list[str]:
        """Base names of the topics this service touches: created at start, before anyone waits on them."""
        return sorted({*(topics.TOPIC_OF[cls] for cls in self.publishes), *self.subscribed, topics.DEAD_LETTER})

    async def start(self) -> None:
        self._started = True
        if self._kafka_publisher is None:
            return
        await ensure_topics(self.kafka, self.needed_topics())
        await self._kafka_publisher.start()
        for loop in self.consumers:
            await loop.start()

    async def stop(self) -> None:
        for loop in self.consumers:
            await loop.stop()
        if self._kafka_publisher is not None:
            await self._kafka_publisher.stop()
        self._started = False

    def consumer_lag(self) -> dict[tuple[str, str, int], int]:
        """(group, topic, partition) -> records not yet handled, over every consumer loop of this runtime."""
        return {key: lag for loop in self.consumers for key, lag in loop.consumer_lag().items()}

    def problems(self) -> list[str]:
        """What is not ready yet; empty when the service may take traffic."""
        if self._kafka_publisher is None:
            return [] if self._started else ["event runtime"]
        problems = []
        if not self._kafka_publisher.started:
            problems.append("kafka producer")
        for loop in self.consumers:
            if not loop.running:
                problems.append("kafka consumer")
            elif not loop.assigned.is_set():
                problems.append("partition assignment")
        return problems

    async def deliver(self) -> int:
        """In-memory transport: hand every record published so far to the subscribed handlers, as the
        consumers would (dead letters included). Returns how many records were looked at."""
        if self.memory is None:
            raise ConfigurationError("deliver() is for the in-memory transport; Kafka consumers run on their own")
        seen = 0
        for subscription in self._subscriptions:
            names = {self.memory.topic(t) for t in subscription.topics}
            start = subscription.position
            subscription.position = await self.memory.drain(subscription.dispatcher, names, start)
            seen += subscription.position - start
        return seen
