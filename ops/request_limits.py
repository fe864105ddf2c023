"""Request bodies over a size are refused with 413 before they are read, on every route.

engine.io answers an oversized long-polling POST only after reading it (its 400 never reached the
client, which was still sending), and an upload would be read whole before Chainlit looks at it. Here a
declared length over the limit is refused (read and dropped first when it is not huge, never kept); a
body sent without one (chunked) is read here, up to the limit, before the route sees it.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest body any route of ours takes: the chat's engine.io packets (engine.io's own limit is 1 MB)
# and the portal's; nothing is uploaded (Chainlit's file upload is off).
MAX_BODY_BYTES = 1_000_000
# A body declared over the limit but at most this big is read and dropped before the 413, a chunk at a
# time: most clients send the whole body before they read an answer. A bigger one is refused unread.
DRAINED_BYTES = 16_000_000


class BodyLimit:
    """A plain ASGI middleware (BaseHTTPMiddleware would read every body itself)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"]) if scope["type"] == "http" else {}
        declared = headers.get(b"content-length", b"")
        if declared.isdigit():
            if int(declared) > self.limit:
                if int(declared) <= DRAINED_BYTES:
                    await _drain(receive)  # so a client that sends its whole body first reads the answer
                await self._refuse(send)
                return
        elif b"transfer-encoding" in headers:
            body = await self._read_up_to_limit(receive)
            if body is None:
                await self._refuse(send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_up_to_limit(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is over the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": f"the request body is over {self.limit:,} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the route the body read already, then listens on (for a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
