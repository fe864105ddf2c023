"""An HTTP request whose head (request line and headers) does not arrive within a while is cut off.

uvicorn, as `chainlit run` starts it, times out only an idle keep-alive connection: one that connects
and sends a partial request, a byte now and then or never, is kept open for good, and a few thousand
of them use up the process's file descriptors (slowloris). Chainlit builds uvicorn's config after it
has imported the app, so the app can give uvicorn its HTTP protocol: h11's, with a timer from the
connection (or the first byte of a keep-alive request) to the end of the request's head.
"""

from __future__ import annotations

import asyncio
import logging

import h11
import uvicorn.protocols.http.auto
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


class _HeadTimedH11Protocol(H11Protocol):
    head_seconds: float  # set by time_out_slow_request_heads before uvicorn uses the class

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and self.transport.get_protocol() is self:
            self._await_head()  # a request begun and not yet whole
        else:
            self._stop_waiting()  # its head arrived, or the connection became a websocket

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.head_seconds, self._head_timed_out)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("closed a connection whose request head did not arrive within %.0f s", self.head_seconds)
            self.transport.close()


def time_out_slow_request_heads(seconds: float) -> None:
    """Every HTTP connection uvicorn accepts from now on gets `seconds` for each request's head."""
    _HeadTimedH11Protocol.head_seconds = seconds
    uvicorn.protocols.http.auto.AutoHTTPProtocol = _HeadTimedH11Protocol
