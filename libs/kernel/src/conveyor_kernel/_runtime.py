"""What every event-driven service runs: one publisher, optionally one consumer group, and readiness."""

from collections.abc import Iterable

from ._bus import Dispatcher, HandlerTable
from ._kafka import KafkaConsumerLoop, KafkaPublisher
from ._settings import ServiceSettings


class EventRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        source: str,
        group: str | None = None,
        topics: Iterable[str] = (),
        handlers: HandlerTable | None = None,
    ) -> None:
        self.publisher = KafkaPublisher(settings.kafka, source)
        self.consumer: KafkaConsumerLoop | None = None
        if group and handlers:
            dispatcher = Dispatcher(handlers, group=group, max_retries=settings.kafka.max_retries)
            self.consumer = KafkaConsumerLoop(settings.kafka, topics, group, dispatcher, self.publisher)

    async def start(self) -> None:
        await self.publisher.start()
        if self.consumer is not None:
            await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        await self.publisher.stop()

    def problems(self) -> list[str]:
        problems = []
        if not self.publisher.started:
            problems.append("kafka producer")
        if self.consumer is not None:
            if not self.consumer.running:
                problems.append("kafka consumer")
            elif not self.consumer.assigned.is_set():
                problems.append("partition assignment")
        return problems
