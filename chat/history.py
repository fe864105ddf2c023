"""The chat history Chainlit shows after a refresh: its SQLAlchemy data layer on our database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine.config import Settings

from .identity import customer_identifier

_SCHEMA = (Path(__file__).parent / "chainlit_schema.sql").read_text()


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else value


class HistoryDataLayer(SQLAlchemyDataLayer):
    """Chainlit's SQLAlchemy layer, with JSON decoded on SQLite (which hands JSON back as text)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(conninfo=settings.history_sqlalchemy_url)
        if not settings.uses_postgres:
            # Chainlit persists each message in a task of its own; on SQLite, one connection makes
            # those writes queue instead of colliding on the file lock and sleeping in its busy-wait.
            self.engine = create_async_engine(
                settings.history_sqlalchemy_url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60
            )
            self.async_session = sessionmaker(bind=self.engine, expire_on_commit=False, class_=AsyncSession)

    async def get_all_user_threads(self, user_id: str | None = None, thread_id: str | None = None) -> Any:
        threads = await super().get_all_user_threads(user_id=user_id, thread_id=thread_id)
        for thread in threads or []:
            thread["metadata"] = _decoded(thread.get("metadata")) or {}
            for step in thread.get("steps", []):
                step["metadata"] = _decoded(step.get("metadata")) or {}
                step["generation"] = _decoded(step.get("generation"))
        return threads


def make_data_layer(settings: Settings) -> HistoryDataLayer:
    return HistoryDataLayer(settings)


async def create_history_tables(settings: Settings) -> None:
    """Chainlit does not create its tables; this does, idempotently, on either database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(settings.history_sqlalchemy_url)
    try:
        async with engine.begin() as connection:
            if not settings.uses_postgres:
                # WAL is a property of the file: readers stop blocking Chainlit's writer from now on.
                await connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA.split(";"):
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
                if body:
                    await connection.execute(text(body))
    finally:
        await engine.dispose()


class ResumeLatestThread(BaseHTTPMiddleware):
    """Opening the chat at `/` reopens the customer's latest conversation, so a refresh loses nothing."""

    def __init__(self, app: Any, settings: Settings) -> None:
        super().__init__(app)
        self._settings = settings
        self._engine = create_async_engine(settings.history_sqlalchemy_url)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method == "GET" and request.url.path == "/" and "text/html" in request.headers.get("accept", ""):
            identifier = customer_identifier(request.headers, self._settings.customer_id_header)
            if identifier and (thread_id := await self._latest_thread(identifier)):
                return RedirectResponse(f"/thread/{thread_id}", status_code=307)
        return await call_next(request)

    async def _latest_thread(self, identifier: str) -> str | None:
        async with self._engine.connect() as connection:
            row = await connection.execute(
                text('SELECT "id" FROM threads WHERE "userIdentifier" = :identifier ORDER BY "createdAt" DESC LIMIT 1'),
                {"identifier": identifier},
            )
            found = row.scalar()
        return str(found) if found else None
