"""`/healthz` (the process is up), `/readyz` (its database, checkpointer and Redis answer), `/metrics`."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.config import Settings
from engine.service import ConversationService

NO_STORE = {"Cache-Control": "no-store"}


def operator_routes(settings: Settings, engine: Callable[[], ConversationService | None]) -> list[BaseRoute]:
    """The routes, reading the engine through `engine` (None until it has started)."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "up"}, headers=NO_STORE)

    async def readyz(request: Request) -> Response:
        service = engine()
        if service is None:
            return JSONResponse({"status": "starting", "failing": {"engine": "still starting"}}, 503, headers=NO_STORE)
        failing = await service.readiness()
        if failing:
            return JSONResponse({"status": "not ready", "failing": failing}, 503, headers=NO_STORE)
        return JSONResponse({"status": "ready", "failing": {}}, headers=NO_STORE)

    async def metrics(request: Request) -> Response:
        if settings.metrics_token:
            sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(sent.encode(), settings.metrics_token.encode()):
                return Response("send Authorization: Bearer <METRICS_TOKEN>\n", 401, {"WWW-Authenticate": "Bearer"})
        service = engine()
        if service is None:
            return Response("the engine is still starting\n", 503, headers=NO_STORE)
        body, content_type = await service.metrics()
        return Response(body, headers={"Content-Type": content_type, **NO_STORE})

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
