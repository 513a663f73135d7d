"""`conveyor tail`: the lifecycle as it happens, one line per event (the demo's narration, on any platform).

By default it follows the audit ledger over REST with your token (every lifecycle event lands there, from any
platform you can reach); `--kafka` reads the topics directly as the demo's narrator does (a local platform).
"""

import contextlib
from datetime import datetime

import typer
from google.protobuf import json_format
from google.protobuf.message import Message

from conveyor.events.v1 import events_pb2 as ev

from .narrator import describe
from .output import calling, console


def event_of(entry: dict) -> Message | None:
    """The ledger entry's event as its protobuf message, so the narrator's sentences apply."""
    cls = getattr(ev, entry.get("type", "").rsplit(".", 1)[-1], None)
    if cls is None or entry.get("event") is None:
        return None
    return json_format.ParseDict(entry["event"], cls(), ignore_unknown_fields=True)


def sentence(entry: dict) -> str:
    event = event_of(entry)
    return describe(event) if event is not None else entry.get("type", "?")


def tail(
    since: int = typer.Option(None, "--from", help="ledger index to start from (default: only new events)"),
    count: int = typer.Option(0, "--count", help="stop after this many events (0: follow until Ctrl-C)"),
    kafka: bool = typer.Option(False, "--kafka", help="read the lifecycle topics directly (local platform)"),
    poll: float = typer.Option(1.0, "--poll", min=0.1, help="seconds between ledger reads when idle"),
) -> None:
    """Follow lifecycle events live."""
    if kafka:
        _tail_kafka(count)
        return
    seen = 0
    with calling() as conveyor:
        try:
            for entry in conveyor.follow_ledger(since, poll):
                short = entry["type"].rsplit(".", 1)[-1]
                at = entry.get("time", "")[11:23]
                console.print(f"[dim]{entry['index']:>6} {at}[/dim] [bold cyan]{short:<24}[/bold cyan] "
                              f"{sentence(entry)}")
                seen += 1
                if count and seen >= count:
                    break
        except KeyboardInterrupt:
            pass


def _tail_kafka(count: int) -> None:
    import asyncio

    from .auth_cmd import state_dir
    from .narrator import Narrator
    from .platform import Platform

    platform = Platform(state_dir=state_dir())
    platform.provision_kafka()

    printed = 0

    def say(elapsed: float, kind: str, text: str) -> None:
        nonlocal printed
        console.print(f"[dim]{datetime.now():%H:%M:%S}[/dim] [bold cyan]{kind:<24}[/bold cyan] {text}")
        printed += 1

    async def follow() -> None:
        narrator = Narrator(platform.kafka_settings(), say)
        await narrator.start()
        try:
            while not count or printed < count:
                await asyncio.sleep(0.2)
        finally:
            await narrator.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())
