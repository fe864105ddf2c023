"""The chat history Chainlit shows after a refresh: its SQLAlchemy data layer on our database."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from chainlit.data import get_data_layer
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.config import Settings
from engine.storage import pool_options
from engine.text import storable

from .identity import customer_identifier

_SCHEMA = (Path(__file__).parent / "chainlit_schema.sql").read_text()


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else value


def _storable(value: Any) -> Any:
    """The value with every string in it made storable (no NUL, no lone surrogate), however nested."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


log = logging.getLogger(__name__)


class HistoryDataLayer(SQLAlchemyDataLayer):
    """Chainlit's SQLAlchemy layer, with JSON decoded on SQLite (which hands JSON back as text),
    without re-checking, before every step it stores, that a thread this process stored exists, and
    with the writes of one step kept in order."""

    _REMEMBERED_THREADS = 50_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pool_options = kwargs.pop("pool_options")
        super().__init__(*args, **kwargs)
        # Chainlit's engine hands out pooled connections unchecked (after a Postgres restart each stale one
        # would fail a message's history write) and sizes its pool itself: the same engine, checked before
        # use, in this process's share of connections.
        self.engine = create_async_engine(
            self.engine.url, connect_args=kwargs.get("connect_args") or {}, **pool_options
        )
        self.async_session = async_sessionmaker(bind=self.engine, expire_on_commit=False)
        self._stored_threads: OrderedDict[str, None] = OrderedDict()
        self._step_locks: dict[str, asyncio.Lock] = {}
        self._step_writers: dict[str, int] = {}  # writes of a step queued or running; its lock goes at 0

    async def get_thread_author(self, thread_id: str) -> str:
        """The thread's author, or "" when there is no such thread: Chainlit then answers 404 (the stock
        layer raises, which Chainlit turns into a 500 and a traceback)."""
        try:
            return await super().get_thread_author(thread_id)
        except ValueError:
            return ""

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        # Chainlit calls this bare before each step it stores, to create the thread if missing: a
        # SELECT and often an upsert per step, a large share of a chat turn's database work.
        if (name, user_id, metadata, tags) == (None, None, None, None) and thread_id in self._stored_threads:
            return
        name = storable(name) if name else name  # Chainlit names a thread after its first message
        await super().update_thread(thread_id, name=name, user_id=user_id, metadata=metadata, tags=tags)
        self._stored_threads[thread_id] = None
        self._stored_threads.move_to_end(thread_id)
        if len(self._stored_threads) > self._REMEMBERED_THREADS:
            self._stored_threads.popitem(last=False)

    async def create_step(self, step_dict: Any) -> None:
        # Chainlit stores each write of a step from a task of its own: a status line created and
        # updated a moment later could be stored as created, when the two transactions finished
        # out of order. The writes of one step now run in the order they were issued.
        step_dict = _storable(step_dict)  # Chainlit stores what the browser sent before our hook sees it
        step_id = step_dict.get("id", "")
        # Registered before anything is awaited: the lock is taken in the order the writes were issued.
        lock = self._step_locks.setdefault(step_id, asyncio.Lock())
        self._step_writers[step_id] = self._step_writers.get(step_id, 0) + 1
        try:
            async with lock:
                if step_dict.get("type") == "user_message" and await self._belongs_elsewhere(
                    step_id, step_dict.get("threadId")
                ):
                    # The browser names its messages: an id already stored in another conversation would
                    # move that message into this one (Chainlit upserts by id). The engine gives such a
                    # turn a fresh id.
                    log.warning("refused to store a customer message whose id belongs to another conversation")
                    return
                await super().create_step(step_dict)
        finally:
            self._step_writers[step_id] -= 1
            if not self._step_writers[step_id]:
                del self._step_writers[step_id], self._step_locks[step_id]

    async def _belongs_elsewhere(self, step_id: str, thread_id: str | None) -> bool:
        rows = await self.execute_sql('SELECT "threadId" FROM steps WHERE "id" = :id', {"id": step_id})
        return isinstance(rows, list) and bool(rows) and rows[0].get("threadId") != thread_id

    async def delete_thread(self, thread_id: str) -> None:
        self._stored_threads.pop(thread_id, None)
        await super().delete_thread(thread_id)

    async def get_all_user_threads(self, user_id: str | None = None, thread_id: str | None = None) -> Any:
        threads = await super().get_all_user_threads(user_id=user_id, thread_id=thread_id)
        for thread in threads or []:
            thread["metadata"] = _decoded(thread.get("metadata")) or {}
            for step in thread.get("steps", []):
                step["metadata"] = _decoded(step.get("metadata")) or {}
                step["generation"] = _decoded(step.get("generation"))
        return threads


async def customer_threads(identifier: str, limit: int = 50) -> list[str]:
    """The customer's latest conversations (ids, newest first), from Chainlit's history."""
    data_layer: Any = get_data_layer()
    rows = await data_layer.execute_sql(
        query='SELECT "id" FROM threads WHERE "userIdentifier" = :identifier ORDER BY "createdAt" DESC LIMIT :limit',
        parameters={"identifier": identifier, "limit": limit},
    )
    return [str(row["id"]) for row in rows] if isinstance(rows, list) else []


def make_data_layer(settings: Settings) -> HistoryDataLayer:
    # On SQLite the history has a file of its own, in WAL mode (see create_history_tables).
    if settings.uses_postgres:
        return HistoryDataLayer(
            conninfo=settings.history_sqlalchemy_url,
            pool_options=pool_options(settings.connection_budget.history, settings),
        )
    return HistoryDataLayer(
        conninfo=settings.history_sqlalchemy_url, connect_args={"timeout": 30}, pool_options={"pool_pre_ping": True}
    )


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


class ResumeLatestThread:
    """Opening the chat at `/` reopens the customer's latest conversation, so a refresh loses nothing.

    A plain ASGI middleware: BaseHTTPMiddleware fails requests that a browser drops mid-navigation.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/":
            request = Request(scope)
            identifier = customer_identifier(request.headers, self._settings.customer_id_header)
            if (
                "text/html" in request.headers.get("accept", "")
                and identifier
                and (latest := await customer_threads(identifier, limit=1))
            ):
                await RedirectResponse(f"/thread/{latest[0]}", status_code=307)(scope, receive, send)
                return
        await self.app(scope, receive, send)
