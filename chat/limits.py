"""`GET /chat/limits`: what the chat page checks before it sends (the server checks again)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.config import Settings


def limits_route(settings: Settings) -> Route:
    async def limits(request: Request) -> Response:
        return JSONResponse({"max_message_chars": settings.max_message_chars}, headers={"Cache-Control": "no-store"})

    return Route("/chat/limits", limits, methods=["GET"])
