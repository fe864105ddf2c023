"""The full transcript of every conversation, append-only, outside the graph's checkpoints.

The graph state keeps no messages: a node that needs the conversation reads its recent messages here
(prompts, loop detection), so a checkpoint costs the same at turn 100 as at turn 10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from .tickets import Base

_CORE_FIELDS = ("id", "role", "author", "content", "at")


class TranscriptRow(Base):
    __tablename__ = "ee_messages"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(80), unique=True)
    thread_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # sources, stopped, avatar_url


def _row(thread_id: str, message: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "message_id": message["id"],
        "thread_id": thread_id,
        "role": message["role"],
        "author": message["author"],
        "content": message["content"],
        "at": message["at"],
        "extra": {key: value for key, value in message.items() if key not in _CORE_FIELDS},
    }


def _message(row: Any) -> dict[str, Any]:
    """A stored row (an ORM row or a Core one, same column names) as the message it records."""
    return {
        "id": row.message_id,
        "role": row.role,
        "author": row.author,
        "content": row.content,
        "at": row.at,
        **row.extra,
    }


class TranscriptStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        insert = (postgres_insert if engine.dialect.name == "postgresql" else sqlite_insert)(TranscriptRow)
        # Built once, rows passed as parameters: SQLAlchemy caches its compiled form (a statement
        # with the rows inlined as VALUES was compiled again on every call).
        self._upsert = insert.on_conflict_do_update(
            index_elements=[TranscriptRow.message_id],
            set_={name: insert.excluded[name] for name in ("role", "author", "content", "at", "extra")},
        )

    async def record(self, thread_id: str, messages: Sequence[Mapping[str, Any]]) -> None:
        """Adds messages; one already recorded (same id) is updated. Recording twice changes nothing.

        One upsert statement, not the ORM: this runs on every turn, in the path of every reply."""
        if not messages:
            return
        async with self._engine.begin() as connection:
            await connection.execute(self._upsert, [_row(thread_id, message) for message in messages])

    async def record_turn(self, thread_id: str, message: Mapping[str, Any], window: int) -> list[dict[str, Any]]:
        """Records the customer's message and returns the `window` messages of the thread up to it,
        oldest first, ending with it (a message recorded earlier keeps its place: what came after it is
        not its context). One connection, in the path of every turn."""
        async with self._engine.begin() as connection:
            await connection.execute(self._upsert, [_row(thread_id, message)])
            its_place = select(TranscriptRow.seq).where(TranscriptRow.message_id == message["id"]).scalar_subquery()
            rows = await connection.execute(
                select(TranscriptRow)
                .where(TranscriptRow.thread_id == thread_id, TranscriptRow.seq <= its_place)
                .order_by(TranscriptRow.seq.desc())
                .limit(window)
            )
            return [_message(row) for row in reversed(rows.all())]

    async def find(self, message_id: str) -> tuple[str, str] | None:
        """The thread and text of a recorded message, or None."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(TranscriptRow.thread_id, TranscriptRow.content).where(TranscriptRow.message_id == message_id)
                )
            ).first()
        return (row.thread_id, row.content) if row else None

    async def read(self, thread_id: str) -> list[dict[str, Any]]:
        """Every message of the thread, in the order it was said."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TranscriptRow).where(TranscriptRow.thread_id == thread_id).order_by(TranscriptRow.seq)
            )
            return [_message(row) for row in rows]
