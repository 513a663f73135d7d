"""The faust application, built by a factory so nothing connects or reads settings at import time."""

import asyncio
from dataclasses import dataclass

import faust

from conveyor_kernel import topics

from .settings import MonitorSettings

APP_NAME = "monitor"


@dataclass(frozen=True)
class SourceTopics:
    predictions: faust.TopicT
    registry: faust.TopicT


def create_faust_app(settings: MonitorSettings) -> faust.App:
    """Call from inside the running event loop (the FastAPI lifespan): faust binds to that loop."""
    kafka = settings.kafka
    return faust.App(
        # The app id is the consumer group and names faust's internal topics, so the prefix isolates both.
        kafka.topic_prefix + APP_NAME,
        broker=[f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")],
        broker_client_id=f"{kafka.client_id}-{APP_NAME}-faust",
        store="memory://",
        topic_partitions=1,
        web_enabled=False,
        # Values stay bytes: the agents decode them with the kernel, headers and all.
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        # Offsets are committed only after the changelog is flushed (faust flushes the producer first):
        # a crash can redeliver a batch (the window skips its id) but never lose one.
        broker_commit_interval=settings.commit_interval_seconds,
        # A SIGKILLed member holds its partitions until its session times out: this bounds a restart.
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        datadir=str(settings.state_dir(APP_NAME) / "faust"),
        loop=asyncio.get_running_loop(),
    )


def source_topics(app: faust.App, prefix: str) -> SourceTopics:
    def topic(name: str) -> faust.TopicT:
        return app.topic(prefix + name, key_serializer="raw", value_serializer="raw")

    return SourceTopics(predictions=topic(topics.PREDICTIONS), registry=topic(topics.REGISTRY))
