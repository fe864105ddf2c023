"""The baselines: a bare python-socketio relay (client → server → client), the floor for this stack, and
the same relay made durable: each message committed to a database before it is passed on, as the app
commits an agent's reply to the transcript before the customer sees it.

Run as `python -m bench.relay PORT [DATABASE]`; DATABASE is a postgresql:// URL or a SQLite file path.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi")
store: Callable[[dict[str, Any]], Awaitable[None]] | None = None
_TABLE = "CREATE TABLE IF NOT EXISTS relayed (id TEXT PRIMARY KEY, room TEXT NOT NULL, text TEXT NOT NULL)"


async def open_store(database: str) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """One INSERT committed per message: Postgres through a pool, SQLite in WAL mode as the app runs it."""
    if database.startswith("postgresql"):
        import asyncpg

        pool = await asyncpg.create_pool(database, min_size=2, max_size=4)
        await pool.execute(_TABLE)

        async def insert_postgres(data: dict[str, Any]) -> None:
            await pool.execute("INSERT INTO relayed VALUES ($1, $2, $3)", data["id"], data["room"], data["text"])

        return insert_postgres
    import aiosqlite

    connection = await aiosqlite.connect(database)
    await connection.execute("PRAGMA journal_mode=WAL")
    await connection.execute("PRAGMA synchronous=NORMAL")
    await connection.execute(_TABLE)

    async def insert_sqlite(data: dict[str, Any]) -> None:
        await connection.execute("INSERT INTO relayed VALUES (?, ?, ?)", (data["id"], data["room"], data["text"]))
        await connection.commit()

    return insert_sqlite


@sio.on("join")
async def join(sid: str, room: str) -> None:
    await sio.enter_room(sid, room)


@sio.on("relay")
async def relay(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    if store is not None:
        await store(data)
    await sio.emit("relayed", data, to=data["room"])
    return {"ok": True}


async def serve(port: int, database: str | None) -> None:
    global store
    if database:
        store = await open_store(database)
    config = uvicorn.Config(
        socketio.ASGIApp(sio, socketio_path="/socket.io"), host="127.0.0.1", port=port, log_level="warning"
    )
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    import asyncio

    asyncio.run(serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
