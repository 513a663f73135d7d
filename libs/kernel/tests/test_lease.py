"""One writer at a time: the lease excludes a second instance, which takes over when the first lets go."""

import asyncio

import pytest
from sqlalchemy.engine import make_url

from conveyor_kernel.lease import LeaderGate, WriterLease


class Part:
    def __init__(self, fail: bool = False) -> None:
        self.fail, self.running = fail, False

    async def start(self) -> None:
        if self.fail:
            raise RuntimeError("the ledger does not verify")
        self.running = True

    async def stop(self) -> None:
        self.running = False

    def problems(self) -> list[str]:
        return []


def lease(tmp_path) -> WriterLease:
    return WriterLease(make_url(f"sqlite:///{tmp_path / 'state.db'}"), "ledger")


async def until(condition, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_standby_waits_and_takes_over_when_the_leader_stops(tmp_path):
    first, second = Part(), Part()
    leader = LeaderGate(lease(tmp_path), [first], poll_seconds=0.05)
    standby = LeaderGate(lease(tmp_path), [second], poll_seconds=0.05)
    await leader.start()
    await standby.start()
    try:
        assert first.running and not second.running
        assert standby.problems() == ["standby: another instance holds the ledger lease"]
        assert leader.problems() == []
        await leader.stop()
        await until(lambda: second.running)
        assert standby.problems() == [] and not first.running
    finally:
        await standby.stop()
        await leader.stop()


async def test_a_part_that_cannot_start_fails_the_start_and_gives_the_lease_back(tmp_path):
    gate = LeaderGate(lease(tmp_path), [Part(fail=True)], poll_seconds=0.05)
    with pytest.raises(RuntimeError, match="does not verify"):
        await gate.start()
    assert not gate.leading
    other = lease(tmp_path)
    assert other.try_acquire()  # nobody holds it any more
    other.release()


class Flaky(WriterLease):
    """A lease whose database does not answer for the first `down` attempts (PostgreSQL restarting)."""

    def __init__(self, inner: WriterLease, down: int) -> None:
        super().__init__(inner.url, inner.name)
        self.down = down

    def try_acquire(self) -> bool:
        if self.down:
            self.down -= 1
            raise ConnectionRefusedError("connection refused")
        return super().try_acquire()


async def test_a_gate_whose_database_is_away_keeps_trying_says_why_and_leads_once_it_answers(tmp_path):
    """The chaos suite found it: after a PostgreSQL restart registry and audit stood by for good, reporting
    another holder that did not exist, because the first failed attempt ended the gate's retry loop."""
    part = Part()
    gate = LeaderGate(Flaky(lease(tmp_path), down=0), [part], poll_seconds=0.05)
    await gate.start()
    try:
        assert part.running
        gate.lease.release()  # the session went with the server, as still_held() finds
        gate.lease.down = 3
        gate.lease.still_held = lambda: False  # type: ignore[method-assign]
        await until(lambda: not part.running)
        await until(lambda: gate.problems() != [] and "unreachable" in gate.problems()[0])
        assert gate.problems() == ["database unreachable for the ledger lease: ConnectionRefusedError"]
        del gate.lease.still_held
        await until(lambda: part.running)
        assert gate.problems() == []
    finally:
        await gate.stop()
