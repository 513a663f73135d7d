"""uvicorn's httptools protocol with one write per response instead of two.

uvicorn writes a response's status line and headers as soon as the app sends `http.response.start`, then the
body on `http.response.body`: two write() system calls per small response. Under load py-spy put about 40%
of a serving worker's samples on those two writes. Here the writes made during one event-loop turn are
queued and leave together at the end of the turn (`writelines`: one vectored write, no copy), so a response
goes out in one call, and responses finished in the same turn share it.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _CoalescingTransport:
    """A transport whose writes within one loop turn are sent together; everything else is the real one's."""

    __slots__ = ("_transport", "_loop", "_parts")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop, self._parts = transport, loop, []

    def write(self, data: bytes) -> None:
        if not self._parts:
            self._loop.call_soon(self._flush)
        self._parts.append(data)

    def _flush(self) -> None:
        parts, self._parts = self._parts, []
        if parts and not self._transport.is_closing():
            self._transport.writelines(parts)

    def close(self) -> None:
        self._flush()  # what was written before close() still goes out, in order
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]
