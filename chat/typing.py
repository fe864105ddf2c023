"""`POST /chat/typing`: the customer's typing state (never the text), for the agent's indicator."""

from __future__ import annotations

from collections.abc import Callable

from chainlit.session import ws_sessions_id
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.config import Settings
from engine.service import ConversationService

from .identity import customer_identifier


def typing_route(settings: Settings, engine: Callable[[], ConversationService]) -> Route:
    async def customer_typing(request: Request) -> Response:
        identifier = customer_identifier(request.headers, settings.customer_id_header)
        if identifier is None:
            return JSONResponse({"error": "unknown customer"}, status_code=401)
        try:
            is_typing = (await request.json())["is_typing"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send JSON {"is_typing": true|false}'}, status_code=400)
        if not isinstance(is_typing, bool):
            return JSONResponse({"error": "is_typing is true or false"}, status_code=400)
        threads = {
            session.thread_id
            for session in list(ws_sessions_id.values())
            if session.user and session.user.identifier == identifier and session.thread_id
        }
        for thread_id in threads:
            await engine().customer_typing(thread_id, is_typing)
        return JSONResponse({"ok": True})

    return Route("/chat/typing", customer_typing, methods=["POST"])
