"""A team's saved replies: a shortcut, a title and a text whose {placeholders} the ticket's facts fill."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import DateTime, String, Text, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from .tickets import Base

PLACEHOLDER = re.compile(r"\{([a-z_]{1,40})\}")


class CannedReplyRow(Base):
    __tablename__ = "ee_canned_replies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CannedReply(BaseModel):
    id: str
    shortcut: str
    title: str
    text: str
    updated_by: str


class ShortcutTaken(Exception):
    """Another saved reply already has this shortcut."""


def _reply(row: CannedReplyRow) -> CannedReply:
    return CannedReply(id=row.id, shortcut=row.shortcut, title=row.title, text=row.text, updated_by=row.updated_by)


def fill(text: str, facts: dict[str, str]) -> tuple[str, list[str]]:
    """The text with each {placeholder} the facts know replaced, and the placeholders they do not know
    (left as written, for the agent to fill in)."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        if match.group(1) in facts:
            return facts[match.group(1)]
        missing.append(match.group(1))
        return match.group(0)

    return PLACEHOLDER.sub(value, text), list(dict.fromkeys(missing))


class CannedReplyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def all(self) -> list[CannedReply]:
        """Every saved reply, by shortcut."""
        async with self._sessions() as session:
            return [
                _reply(row) for row in await session.scalars(select(CannedReplyRow).order_by(CannedReplyRow.shortcut))
            ]

    async def get(self, reply_id: str) -> CannedReply | None:
        async with self._sessions() as session:
            row = await session.get(CannedReplyRow, reply_id)
            return _reply(row) if row else None

    async def save(self, reply_id: str | None, shortcut: str, title: str, text: str, author: str) -> CannedReply | None:
        """Creates a reply (no id) or replaces one; None if `reply_id` names none. Raises ShortcutTaken."""
        try:
            async with self._sessions.begin() as session:
                row = await session.get(CannedReplyRow, reply_id) if reply_id else CannedReplyRow(id=uuid.uuid4().hex)
                if row is None:
                    return None
                row.shortcut, row.title, row.text = shortcut, title, text
                row.updated_by, row.updated_at = author, datetime.now(UTC)
                session.add(row)
        except IntegrityError as taken:  # the unique shortcut: two saves racing are decided here too
            raise ShortcutTaken(shortcut) from taken
        return _reply(row)

    async def delete(self, reply_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(CannedReplyRow).where(CannedReplyRow.id == reply_id))
            return bool(getattr(result, "rowcount", 0))
