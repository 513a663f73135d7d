import asyncio
from typing import Any


async def cancel_task(task: "asyncio.Task[Any] | None") -> None:
    """Cancel a background task and wait until it has really stopped (its finally blocks ran)."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
