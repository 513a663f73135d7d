"""One writer at a time: a lease on the database, and a gate that runs a service's writing parts only while held.

The audit ledger and the registry are single writers by design: the ledger's Merkle tree has one tip, the
registry decides promotions in order. Running a second instance is how a standby is kept: it starts, answers
/healthz, reports `standby` on /readyz (so no load balancer sends it traffic) and waits for the lease; when the
leader dies its lease goes with it and the standby starts its writing components within `poll_seconds`.

The lease lives where the state lives, so no extra system is needed:
- PostgreSQL: a session advisory lock held on a connection of its own. The server releases it when that
  session ends: the process exits or is killed, or the connection is cut (TCP keepalive, a few seconds here).
- SQLite: an exclusive flock on `<database file>.lease`; the operating system releases it when the process dies.
A leader checks its lease every `poll_seconds`; if the lease connection is gone it stops its writing
components at once (another instance may hold the lease by then) and competes for it again. While the database
cannot be reached, competing fails; the gate keeps trying every `poll_seconds` (a restarted PostgreSQL must not
leave every instance standing by for good) and /readyz says the database is the reason.
"""

import asyncio
import fcntl
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.engine import URL

from ._http import Component
from ._tasks import cancel_task

logger = logging.getLogger(__name__)


class WriterLease:
    def __init__(self, url: URL, name: str) -> None:
        """`name`: what is being written (e.g. "audit-ledger"); instances sharing a database and a name exclude
        each other."""
        self.url = url
        self.name = name
        self._file: IO[str] | None = None
        self._connection: Any = None

    @property
    def postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits."""
        if self.postgres:
            return self._try_postgres()
        path = Path(f"{self.url.database}.lease")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")  # who holds it, for an operator looking
        handle.flush()
        self._file = handle
        return True

    def _try_postgres(self) -> bool:
        from sqlalchemy import create_engine

        engine = create_engine(self.url, poolclass=_single_pool(),
                               connect_args={"keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2})
        try:
            connection = engine.connect()
        except Exception:
            engine.dispose()
            raise
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"),
                                     {"name": f"conveyor-lease:{self.name}"}).scalar()
            connection.commit()
        except Exception:
            connection.close()
            engine.dispose()
            raise
        if not got:
            connection.close()
            engine.dispose()
            return False
        self._connection = (engine, connection)
        return True

    def still_held(self) -> bool:
        """The lease is ours and, on PostgreSQL, its session is alive."""
        if self._file is not None:
            return True
        if self._connection is None:
            return False
        try:
            self._connection[1].execute(text("SELECT 1")).scalar()
            self._connection[1].commit()
        except Exception:  # noqa: BLE001 - any failure means the session, and so the lock, may be gone
            logger.warning("lease %s: its database session is gone", self.name)
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            engine, connection = self._connection
            self._connection = None
            try:
                connection.close()  # ends the session: the server drops the advisory lock with it
            except Exception:  # noqa: BLE001 - a dead connection has released its lock already
                logger.debug("lease %s: closing a dead session", self.name)
            engine.dispose()


def _single_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


class LeaderGate:
    """A component wrapping the writing components: they start once the lease is held and stop when it is lost."""

    def __init__(self, lease: WriterLease, components: Sequence[Component], poll_seconds: float = 1.0) -> None:
        self.lease = lease
        self.components = list(components)
        self.poll_seconds = poll_seconds
        self.leading = False
        self._started: list[Component] = []
        self._task: asyncio.Task[None] | None = None
        self._unreachable = ""  # why the last attempt to take the lease failed, if the database did not answer

    async def _try_acquire(self, reraise: bool = False) -> bool:
        try:
            got = await asyncio.to_thread(self.lease.try_acquire)
        except Exception as exc:  # noqa: BLE001 - the database is down or refuses us: try again next poll
            if reraise:
                raise
            if not self._unreachable:
                logger.warning("lease %s: the database cannot be reached (%s); trying every %.0f s",
                               self.lease.name, type(exc).__name__, self.poll_seconds)
            self._unreachable = f"database unreachable for the {self.lease.name} lease: {type(exc).__name__}"
            return False
        self._unreachable = ""
        return got

    async def start(self) -> None:
        """Alone (the lease is free), the writing components have started when this returns, as if ungated;
        else a standby's wait runs in the background and the app serves /healthz meanwhile."""
        if await self._try_acquire(reraise=True):
            logger.info("lease %s acquired: this instance writes", self.lease.name)
            # At start-up a component that cannot start (a ledger that fails verification) stops the
            # process, as it would ungated: fail fast, with the lease given back first.
            await self._start_components(reraise=True)
        else:
            logger.info("lease %s is held by another instance: standing by", self.lease.name)
        self._task = asyncio.create_task(self._run(), name=f"lease-{self.lease.name}")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            if not self.leading:
                if await self._try_acquire():
                    logger.info("lease %s acquired: this instance writes", self.lease.name)
                    await self._start_components()
            elif not await asyncio.to_thread(self.lease.still_held):
                logger.error("lease %s lost: stopping the writing components", self.lease.name)
                await self._stop_components()

    async def _start_components(self, reraise: bool = False) -> None:
        self.leading = True
        try:
            for component in self.components:
                self._started.append(component)
                await component.start()
        except Exception:  # noqa: BLE001 - a failed start gives the lease back for another instance to try
            logger.exception("lease %s: a component failed to start; giving the lease back", self.lease.name)
            await self._stop_components()
            if reraise:
                raise

    async def _stop_components(self) -> None:
        for component in reversed(self._started):
            try:
                await component.stop()
            except Exception:  # noqa: BLE001 - stop the others regardless
                logger.exception("lease %s: stopping %r failed", self.lease.name, component)
        self._started = []
        self.leading = False
        await asyncio.to_thread(self.lease.release)

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        await self._stop_components()

    def problems(self) -> list[str]:
        if not self.leading:
            return [self._unreachable or f"standby: another instance holds the {self.lease.name} lease"]
        return [problem for component in self.components for problem in component.problems()]
