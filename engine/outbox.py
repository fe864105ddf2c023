"""Events Redis would not take, kept in Postgres until it does, so a process that dies meanwhile loses none.

Any process drains the table, its own rows and those of a process that died, when Redis is back: one
drainer at a time (an advisory lock), oldest first, so events keep the order they were held in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_DRAIN_LOCK = "escalation:bus-outbox"
_BATCH = 100  # rows sent per transaction: what a process killed mid-drain may send twice

Send = Callable[[str, str], Awaitable[None]]


class DurableOutbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create_table(self) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS ee_bus_outbox"
                    " (id BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL)"
                )
            )

    async def put(self, topic: str, payload: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO ee_bus_outbox (topic, payload) VALUES (:topic, :payload)"),
                {"topic": topic, "payload": payload},
            )

    async def drain(self, send: Send) -> int | None:
        """Sends every held event, oldest first, deleting each batch's sent rows in the transaction that
        read them; returns how many, or None at once while another process drains. Raises what `send`
        raises (a cancellation too), keeping what it did not send. A process killed mid-batch leaves
        that batch's sent rows to be sent again: delivery is at least once."""
        sent = 0
        while True:
            failure: BaseException | None = None
            async with self._engine.begin() as connection:
                locked = await connection.scalar(
                    text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"), {"key": _DRAIN_LOCK}
                )
                if not locked:
                    return None
                rows = (
                    await connection.execute(
                        text("SELECT id, topic, payload FROM ee_bus_outbox ORDER BY id LIMIT :batch"),
                        {"batch": _BATCH},
                    )
                ).all()
                if not rows:
                    return sent
                done: list[int] = []
                for row in rows:
                    try:
                        await send(row.topic, row.payload)
                    except BaseException as problem:  # a cancellation too: what was sent is still deleted
                        failure = problem
                        break
                    done.append(row.id)
                if done:
                    deleting = connection.execute(text("DELETE FROM ee_bus_outbox WHERE id = ANY(:ids)"), {"ids": done})
                    await asyncio.shield(deleting)
                    sent += len(done)
            if failure is not None:
                raise failure
