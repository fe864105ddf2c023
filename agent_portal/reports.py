"""The reports page at `/portal/reports` and its data, for supervisors only.

The page is static; its data comes from `/portal/reports/data` (JSON) and `/portal/reports/data.csv`,
each asking for the portal login token as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from engine.reports import DeskReport, report_csv
from engine.service import ConversationService
from engine.tickets import AgentProfile

from .tokens import AgentTokens

log = logging.getLogger(__name__)
CHART_JS = Path(__file__).resolve().parent.parent / "node_modules" / "chart.js" / "dist"


class ReportRoutes:
    def __init__(
        self,
        tokens: AgentTokens,
        service: Callable[[], ConversationService],
        static: Path,
        page_headers: dict[str, str],
    ) -> None:
        self._tokens = tokens
        self._service = service
        self._static = static
        self._page_headers = page_headers

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/portal/reports", self._page, methods=["GET"]),
            Route("/portal/reports/data", self._data, methods=["GET"]),
            Route("/portal/reports/data.csv", self._csv, methods=["GET"]),
            Mount("/portal/vendor/chart", StaticFiles(directory=CHART_JS, check_dir=False)),
        ]

    async def _page(self, request: Request) -> Response:
        return FileResponse(self._static / "reports.html", headers={"Cache-Control": "no-store", **self._page_headers})

    async def _supervisor(self, request: Request) -> AgentProfile | Response:
        """The supervisor the request's token names, or the response that refuses it."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        holder = self._tokens.holder(token) if token else None
        agent = await self._service().tickets.agent(holder[0]) if holder else None
        if agent is None:
            return JSONResponse({"error": "log in to the portal first"}, 401, {"WWW-Authenticate": "Bearer"})
        if not agent.is_supervisor:
            return JSONResponse({"error": f"{agent.name} is not a supervisor; only supervisors see reports"}, 403)
        return agent

    async def _report(self, request: Request) -> DeskReport | Response:
        allowed = await self._supervisor(request)
        if isinstance(allowed, Response):
            return allowed
        period = request.query_params.get("period", "7d")
        time_zone = request.query_params.get("tz", "UTC")
        try:
            return await self._service().reports.report(period, time_zone)
        except ValueError as invalid:
            return JSONResponse({"error": str(invalid)}, 400)
        except Exception:  # the database did not answer: say so, the page keeps its last figures
            log.exception("the report for %s (%s) could not be read", period, time_zone)
            return JSONResponse({"error": "the figures could not be read just now; try again in a moment"}, 503)

    async def _data(self, request: Request) -> Response:
        report = await self._report(request)
        if isinstance(report, Response):
            return report
        return JSONResponse(report.as_json(), headers={"Cache-Control": "no-store"})

    async def _csv(self, request: Request) -> Response:
        report = await self._report(request)
        if isinstance(report, Response):
            return report
        name = f"escalations-{report.period}-{report.until[:10]}.csv"
        return Response(
            report_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )
