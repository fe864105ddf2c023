"""The full transcript of every conversation, append-only, outside the graph's checkpoints.

The graph state keeps only a recent window of messages (what prompts and loop detection need), so
a checkpoint costs the same at turn 100 as at turn 10; everything ever said lives here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String, Text, select
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


class TranscriptStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def record(self, thread_id: str, messages: list[dict[str, Any]]) -> None:
        """Adds messages; one already recorded (same id) is updated. Recording twice changes nothing."""
        async with self._sessions.begin() as session:
            ids = [message["id"] for message in messages]
            existing = {row.message_id: row for row in await session.scalars(select(TranscriptRow).where(TranscriptRow.message_id.in_(ids)))}
            for message in messages:
                row = existing.get(message["id"]) or TranscriptRow(message_id=message["id"], thread_id=thread_id)
                row.role, row.author, row.content, row.at = message["role"], message["author"], message["content"], message["at"]
                row.extra = {key: value for key, value in message.items() if key not in _CORE_FIELDS}
                session.add(row)

    async def read(self, thread_id: str) -> list[dict[str, Any]]:
        """Every message of the thread, in the order it was said."""
        async with self._sessions() as session:
            rows = await session.scalars(select(TranscriptRow).where(TranscriptRow.thread_id == thread_id).order_by(TranscriptRow.seq))
            return [
                {"id": row.message_id, "role": row.role, "author": row.author, "content": row.content, "at": row.at, **row.extra}
                for row in rows
            ]
