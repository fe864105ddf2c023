"""Whether this process can serve: the database, the checkpointer and Redis each answer in time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .bus import EventBus

# A load balancer polls every second or so: a part that has not answered by then counts as down.
CHECK_SECONDS = 0.8


async def _database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _checkpointer(saver: Any) -> None:
    pool_or_connection = saver.conn
    if hasattr(pool_or_connection, "connection"):  # Postgres: a psycopg pool
        async with pool_or_connection.connection(timeout=CHECK_SECONDS) as connection:
            await connection.execute("SELECT 1")
    else:  # SQLite: one aiosqlite connection
        await (await pool_or_connection.execute("SELECT 1")).close()


async def _answers(check: Awaitable[None]) -> str | None:
    try:
        await asyncio.wait_for(check, CHECK_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS} s"
    except Exception as problem:  # whatever failed is the answer, with its reason
        return f"{type(problem).__name__}: {problem}"[:300]
    return None


async def failing_parts(engine: AsyncEngine, checkpointer: Any, bus: EventBus) -> dict[str, str]:
    """The parts that did not answer, each with why; all are checked at once, so this takes at most
    CHECK_SECONDS however many are down."""
    checks = {"database": _database(engine), "checkpointer": _checkpointer(checkpointer), "redis": bus.ping()}
    results = await asyncio.gather(*(_answers(check) for check in checks.values()))
    return {part: problem for part, problem in zip(checks, results, strict=True) if problem}
