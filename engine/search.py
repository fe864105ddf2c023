"""Finds tickets by what the customer said or gave (an email, an order number), by summary and by status."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .events import TicketView
from .tickets import HANDED_BACK, OPEN_STATUSES, RESOLVED, WITHDRAWN, AgentProfile, TicketEventRow, TicketRow, view
from .transcript import TranscriptRow

Scope = Literal["open", "closed", "all"]
SCOPES: dict[str, tuple[str, ...]] = {
    "open": OPEN_STATUSES,
    "closed": (RESOLVED, HANDED_BACK, WITHDRAWN),
    "all": (*OPEN_STATUSES, RESOLVED, HANDED_BACK, WITHDRAWN),
}
_CANDIDATES = 500  # newest matches read before visibility is applied


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class TicketSearch:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def find(self, query: str, scope: Scope, agent: AgentProfile, limit: int = 50) -> list[TicketView]:
        """The newest tickets in `scope` whose summary, customer facts or conversation contain `query`
        (any case; every ticket in scope when it is empty) that `agent` may see: a supervisor all of
        them, an agent those sharing a skill, those they hold and those they once held."""
        needle = " ".join(query.split())
        statement = select(TicketRow).where(TicketRow.status.in_(SCOPES[scope]))
        if needle:
            pattern = _like(needle)
            said = select(TranscriptRow.thread_id).where(TranscriptRow.content.ilike(pattern, escape="\\"))
            statement = statement.where(
                or_(
                    TicketRow.summary.ilike(pattern, escape="\\"),
                    cast(TicketRow.brief, Text).ilike(pattern, escape="\\"),
                    TicketRow.thread_id.in_(said),
                )
            )
        async with self._sessions() as session:
            rows = list(await session.scalars(statement.order_by(TicketRow.waiting_since.desc()).limit(_CANDIDATES)))
            held_before: set[str] = set()
            if not agent.is_supervisor and rows:
                held_before = set(
                    await session.scalars(
                        select(TicketEventRow.ticket_id).where(
                            TicketEventRow.kind == "claimed",
                            TicketEventRow.actor == agent.name,
                            TicketEventRow.ticket_id.in_([row.id for row in rows]),
                        )
                    )
                )
        visible = [
            row
            for row in rows
            if agent.is_supervisor
            or row.assigned_agent == agent.name
            or row.id in held_before
            or set(row.skills) & set(agent.skills)
        ]
        return [view(row) for row in visible[:limit]]
