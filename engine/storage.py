"""Opens the databases: the SQLAlchemy engine for tickets and the LangGraph checkpointer."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from .config import Settings


def pool_options(size: int, settings: Settings) -> dict[str, Any]:
    """SQLAlchemy pool settings for `size` connections, each checked before use (a connection Postgres
    ended in a failover or restart is replaced, not handed to a write that would fail)."""
    return {
        "pool_size": size,
        "max_overflow": 0,
        "pool_timeout": settings.database_wait_seconds,
        "pool_pre_ping": True,
    }


def make_sql_engine(settings: Settings) -> AsyncEngine:
    if settings.uses_postgres:
        return create_async_engine(settings.sqlalchemy_url, **pool_options(settings.connection_budget.work, settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # One connection: our writes queue in the pool instead of colliding on SQLite's file lock, whose
    # busy-wait backs off in sleeps of up to 100 ms (that was the tail of every latency figure).
    engine = create_async_engine(
        settings.sqlalchemy_url,
        connect_args={"timeout": 30},
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
    )

    from sqlalchemy import event

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable across crashes of the app
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def make_lock_engine(settings: Settings) -> AsyncEngine:
    """Connections that only hold per-thread advisory locks, one per run in progress."""
    # A run waits here behind the runs in progress, each bounded by the LLM's timeout: that is a queue, not
    # an outage (a server that refuses connections fails the wait at once).
    options = pool_options(settings.connection_budget.locks, settings)
    options["pool_timeout"] = settings.llm_timeout_seconds + settings.database_wait_seconds
    return create_async_engine(settings.sqlalchemy_url, **options)


async def open_checkpointer(settings: Settings, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
    """A checkpointer that lives as long as `stack`: Postgres (tables set up) or a SQLite file."""
    if settings.uses_postgres:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg import AsyncConnection
        from psycopg.rows import DictRow, dict_row
        from psycopg_pool import AsyncConnectionPool

        # Typed by its row_factory, which mypy cannot read from kwargs.
        pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            settings.psycopg_url,
            min_size=1,
            max_size=settings.connection_budget.checkpoints,
            timeout=settings.database_wait_seconds,
            open=False,
            # A connection Postgres ended (a failover, a restart) is replaced before use, not handed to a
            # reply that would then fail; the check is one round trip on an idle connection.
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        stack.push_async_callback(pool.close)
        postgres_saver = AsyncPostgresSaver(pool)
        await postgres_saver.setup()
        return postgres_saver

    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    connection = await aiosqlite.connect(settings.checkpoint_path)
    stack.push_async_callback(connection.close)
    await connection.execute("PRAGMA journal_mode=WAL")
    await connection.execute("PRAGMA synchronous=NORMAL")
    saver = AsyncSqliteSaver(connection)
    await saver.setup()
    return saver
