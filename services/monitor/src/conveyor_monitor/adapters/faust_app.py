"""The faust application, built by a factory so nothing connects or reads settings at import time.

faust binds its event loop on first use (mode's services late-bind it), which is `FaustStream.start()`
inside the server's loop: so wiring can build the app, its tables and agents before any loop runs. Nothing
before start may read `app.loop`, or the app would be pinned to a loop nobody runs.
"""

import os

import faust

from ..settings import MonitorSettings


def create_faust_app(settings: MonitorSettings, name: str) -> faust.App:
    kafka = settings.kafka
    return faust.App(
        # The app id is the consumer group and names faust's internal topics, so the prefix isolates both.
        kafka.group(name),
        broker=[f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")],
        broker_client_id=f"{kafka.client_id}-{name}-faust",
        broker_credentials=faust.SASLCredentials(username=kafka.sasl_username,
                                                 password=kafka.sasl_password.get_secret_value(),
                                                 mechanism=kafka.sasl_mechanism) if kafka.sasl else None,
        store="memory://",
        topic_partitions=settings.table_partitions,
        web_enabled=False,
        # Values stay bytes: the agents decode them with the kernel, headers and all.
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        # Offsets are committed only after the changelog is flushed (faust flushes the producer first):
        # a crash can redeliver a batch (the window skips its id) but never lose one.
        broker_commit_interval=settings.commit_interval_seconds,
        # With faust's 1 MiB default a fetch held ~7 PredictionsLogged of 500 rows (~140 KB each) and the stream
        # stalled ~1.25 s between fetches (dispatch times in bench/monitor.py: 5 stalls in a 10 s run, 70% of
        # it idle); 16 MiB took the Kafka path from ~4,000 to ~13,000 predictions/s.
        consumer_max_fetch_size=settings.fetch_max_bytes,
        # A SIGKILLed member holds its partitions until its session times out: this bounds a restart.
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        # memory:// tables keep nothing on disk, but faust still wants a folder: one per process, so that
        # several instances on one machine never share it
        datadir=str(settings.state_dir(name) / f"faust-{os.getpid()}"),
    )
