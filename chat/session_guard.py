"""Requests that name a chat session this process does not have get a 404 that says so.

Chainlit looks the session up and, when it is missing (a stale tab after a restart, another process's
session, a made-up id), fails inside the request with an unhandled ValueError: a 500 and a traceback in
the log for what is a client's mistake. A plain ASGI middleware: it reads the small JSON body of the
endpoints that carry a `sessionId`, then hands the same body on.
"""

from __future__ import annotations

import json

from chainlit.session import WebsocketSession
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Endpoint -> methods whose JSON body names the chat session (`sessionId`).
_SESSION_BODIES = {"/project/action": {"POST"}, "/project/element": {"PUT", "DELETE"}}
_MAX_BODY_BYTES = 1024 * 1024


def _missing(session_id: object) -> bool:
    return not isinstance(session_id, str) or WebsocketSession.get_by_id(session_id) is None


class KnownSessionsOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _SESSION_BODIES.get(scope["path"], ()):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > _MAX_BODY_BYTES:
                await JSONResponse({"detail": "the request is too large"}, 413)(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        try:
            session_id = json.loads(body).get("sessionId")
        except (ValueError, AttributeError):
            session_id = None  # not a JSON object: Chainlit's own validation answers it
        else:
            if _missing(session_id):
                detail = "this chat session is not open on the server any more; reload the page"
                await JSONResponse({"detail": detail}, 404)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: the client's disconnect, as Starlette expects
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
