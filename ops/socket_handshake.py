"""An engine.io connection that never completes the socket.io handshake is closed after a while.

engine.io keeps a connection open as long as its client answers pings, whether or not it ever connects
to a socket.io namespace (and so authenticates, on both of our sockets): a client could hold thousands
of such connections. Each one gets HANDSHAKE_SECONDS to send its socket.io CONNECT.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

HANDSHAKE_SECONDS = 10.0


def close_unconnected_sockets(sio: socketio.AsyncServer, seconds: float = HANDSHAKE_SECONDS) -> None:
    handle_connect = sio._handle_eio_connect  # python-socketio's own engine.io connect handler

    async def connected(eio_sid: str, environ: dict[str, Any]) -> Any:
        accepted = await handle_connect(eio_sid, environ)
        asyncio.get_running_loop().call_later(seconds, lambda: asyncio.ensure_future(_close_if_unconnected(eio_sid)))
        return accepted

    async def _close_if_unconnected(eio_sid: str) -> None:
        if eio_sid in sio.eio.sockets and not sio.manager.sid_from_eio_sid(eio_sid, "/"):
            await sio.eio.disconnect(eio_sid)

    sio.eio.on("connect", connected)
