"""Tickets, agents and the ticket audit trail, stored with SQLAlchemy (aiosqlite or asyncpg)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, cast, overload
from urllib.parse import quote

import bcrypt
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .brief import HandoffBrief
from .events import TicketView

WAITING, ASSIGNED, RESOLVED, HANDED_BACK, WITHDRAWN = "waiting", "assigned", "resolved", "handed_back", "withdrawn"
OPEN_STATUSES = (WAITING, ASSIGNED)


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class TicketRow(Base):
    __tablename__ = "ee_tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    skills: Mapped[list[str]] = mapped_column(JSON)
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[float] = mapped_column(Float)
    sentiment: Mapped[float] = mapped_column(Float)
    frustration: Mapped[float] = mapped_column(Float)
    assigned_agent: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    waiting_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AgentRow(Base):
    __tablename__ = "ee_agents"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    skills: Mapped[list[str]] = mapped_column(JSON)
    is_supervisor: Mapped[bool] = mapped_column(default=False)
    max_chats: Mapped[int] = mapped_column(Integer, default=3)
    avatar_url: Mapped[str] = mapped_column(String(300), default="")
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["en"])
    away: Mapped[bool] = mapped_column(default=False)  # the agent set Away: no assignments, not counted on duty


class PresenceRow(Base):
    """An agent with the portal open on one process, as of that process's latest heartbeat."""

    __tablename__ = "ee_agent_presence"

    process_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TicketEventRow(Base):
    __tablename__ = "ee_ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("ee_tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: datetime | None) -> datetime | None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE changed. An UPDATE's result is a CursorResult, which AsyncSession.execute's
    overloads type as a plain Result."""
    return cast(CursorResult[Any], result).rowcount


def view(row: TicketRow) -> TicketView:
    """The ticket as the rest of the system sees it."""
    return TicketView(
        id=row.id,
        thread_id=row.thread_id,
        status=row.status,
        reason=row.reason,
        summary=row.summary,
        skills=row.skills,
        priority=row.priority,
        sentiment=row.sentiment,
        frustration=row.frustration,
        customer_facts=row.brief.get("customer_facts", {}),
        language=row.brief.get("language", "en"),
        assigned_agent=row.assigned_agent,
        waiting_since=as_utc(row.waiting_since),
        claimed_at=as_utc(row.claimed_at),
        closed_at=as_utc(row.closed_at),
        rating=row.rating,
    )


class AgentProfile(BaseModel):
    """An agent as the rest of the system sees them: never with the password hash."""

    name: str
    skills: list[str]
    is_supervisor: bool
    max_chats: int
    avatar_url: str
    languages: list[str] = ["en"]  # ISO 639-1 codes: tickets in these come first in the agent's queue
    away: bool = False


def _profile(row: AgentRow) -> AgentProfile:
    return AgentProfile(
        name=row.name,
        skills=row.skills,
        is_supervisor=row.is_supervisor,
        max_chats=row.max_chats,
        avatar_url=row.avatar_url or f"/avatars/{quote(row.name)}",
        languages=row.languages or ["en"],
        away=bool(row.away),
    )


_LATER_AGENT_COLUMNS = {"languages": "JSON", "away": "BOOLEAN NOT NULL DEFAULT FALSE"}

# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_UNKNOWN_AGENT_HASH = bcrypt.hashpw(b"no such agent", bcrypt.gensalt())


def escalation_priority(frustration: float, reason: str) -> float:
    """Higher is served first; equal priorities are served in order of waiting time."""
    return round(frustration * 10 + (2 if reason in ("handoff_request", "assistant_unavailable") else 0), 3)


class TicketStore:
    """Opens, claims and closes tickets. Every change is one statement and leaves an audit entry."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # One bcrypt check at a time per process: a flood of logins queues here instead of taking every
        # core from the event loop and everyone else's requests.
        self._password_checks = asyncio.Semaphore(1)

    async def create_tables(self) -> None:
        async with self._engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            # Agents stored before agents had these get the columns (create_all adds tables, not columns).
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("ee_agents")}
            )
            for column, definition in _LATER_AGENT_COLUMNS.items():
                if column not in columns:
                    # Processes starting together may race here: IF NOT EXISTS makes the second one a no-op.
                    if_missing = "IF NOT EXISTS " if connection.dialect.name == "postgresql" else ""
                    await connection.execute(
                        text(f"ALTER TABLE ee_agents ADD COLUMN {if_missing}{column} {definition}")
                    )

    async def open_ticket(
        self, thread_id: str, brief: HandoffBrief, sentiment: float, frustration: float
    ) -> TicketView:
        """Opens a waiting ticket for the thread, or returns the one already open (a re-run is harmless)."""
        async with self._sessions.begin() as session:
            existing = await session.scalar(
                select(TicketRow).where(TicketRow.thread_id == thread_id, TicketRow.status.in_(OPEN_STATUSES))
            )
            if existing:
                return view(existing)
            row = TicketRow(
                id=uuid.uuid4().hex[:12],
                thread_id=thread_id,
                status=WAITING,
                reason=brief.reason,
                summary=brief.summary,
                skills=brief.skills,
                brief=brief.model_dump(),
                priority=escalation_priority(frustration, brief.reason),
                sentiment=sentiment,
                frustration=frustration,
                waiting_since=_now(),
            )
            session.add(row)
            await session.flush()  # the ticket row first: the audit entry references it
            session.add(
                TicketEventRow(ticket_id=row.id, kind="opened", actor="assistant", detail={"reason": brief.reason})
            )
            return view(row)

    async def get(self, ticket_id: str) -> TicketView | None:
        async with self._sessions() as session:
            row = await session.get(TicketRow, ticket_id)
            return view(row) if row else None

    async def brief(self, ticket_id: str) -> dict[str, Any]:
        """The brief the ticket was opened with, as the escalate node wrote it."""
        async with self._sessions() as session:
            return dict(await session.scalar(select(TicketRow.brief).where(TicketRow.id == ticket_id)) or {})

    async def open_for_thread(self, thread_id: str) -> TicketView | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(TicketRow).where(TicketRow.thread_id == thread_id, TicketRow.status.in_(OPEN_STATUSES))
            )
            return view(row) if row else None

    async def recent_handle_seconds(self, limit: int) -> list[float]:
        """From claim to resolution, in seconds, for the latest `limit` resolved tickets."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(TicketRow.claimed_at, TicketRow.closed_at)
                .where(
                    TicketRow.status == RESOLVED, TicketRow.claimed_at.is_not(None), TicketRow.closed_at.is_not(None)
                )
                .order_by(TicketRow.closed_at.desc())
                .limit(limit)
            )
            return [
                (closed - claimed).total_seconds()
                for claimed_at, closed_at in rows
                if (claimed := as_utc(claimed_at)) and (closed := as_utc(closed_at))
            ]

    async def open_among(self, thread_ids: list[str]) -> TicketView | None:
        """The most recent open ticket of any of these conversations, or None."""
        if not thread_ids:
            return None
        async with self._sessions() as session:
            row = await session.scalar(
                select(TicketRow)
                .where(TicketRow.thread_id.in_(thread_ids), TicketRow.status.in_(OPEN_STATUSES))
                .order_by(TicketRow.waiting_since.desc())
                .limit(1)
            )
            return view(row) if row else None

    async def tickets_of_thread(self, thread_id: str) -> list[TicketView]:
        """Every ticket the conversation had, newest first: the customer's earlier requests for a person."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketRow).where(TicketRow.thread_id == thread_id).order_by(TicketRow.waiting_since.desc())
            )
            return [view(row) for row in rows]

    async def latest_for_thread(self, thread_id: str) -> TicketView | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(TicketRow).where(TicketRow.thread_id == thread_id).order_by(TicketRow.waiting_since.desc())
            )
            return view(row) if row else None

    async def claim(
        self, ticket_id: str, agent_name: str, max_chats: int, *, automatic: bool = False
    ) -> TicketView | None:
        """Assigns a waiting ticket to an agent holding fewer than `max_chats`; None if either fails.
        `automatic`: given by automatic assignment, not claimed by the agent (kept in the audit entry).

        One conditional UPDATE: of racing agents exactly one wins. The agent's own claims are taken one
        at a time (SQLite has one writer; on Postgres a lock per agent for the transaction), so two
        quick clicks cannot both fit under the limit."""
        holding = (
            select(func.count())
            .select_from(TicketRow)
            .where(TicketRow.assigned_agent == agent_name, TicketRow.status == ASSIGNED)
            .scalar_subquery()
        )
        async with self._sessions.begin() as session:
            if self._engine.dialect.name == "postgresql":  # the engine the sessions are bound to
                await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("agent:" + agent_name))))
            result = await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status == WAITING, holding < max_chats)
                .values(status=ASSIGNED, assigned_agent=agent_name, claimed_at=_now())
            )
            if _rowcount(result) != 1:
                return None
            session.add(
                TicketEventRow(
                    ticket_id=ticket_id,
                    kind="claimed",
                    actor=agent_name,
                    detail={"automatic": True} if automatic else {},
                )
            )
        return await self.get(ticket_id)

    async def unclaim(self, ticket_id: str, actor: str) -> None:
        """Undoes a claim that could not take effect; the customer keeps their place in the queue."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status == ASSIGNED)
                .values(status=WAITING, assigned_agent=None)
            )
            session.add(TicketEventRow(ticket_id=ticket_id, kind="unclaimed", actor=actor))

    async def requeue(
        self, ticket_id: str, actor: str, skills: list[str] | None, to_agent: str | None
    ) -> TicketView | None:
        """A transfer: back to the queue for other skills, or straight to a named agent."""
        target = to_agent or f"the {'/'.join(skills or [])} queue"
        values: dict[str, Any] = {
            "status": ASSIGNED if to_agent else WAITING,
            "assigned_agent": to_agent,
            "claimed_at": _now() if to_agent else None,
            "summary": TicketRow.summary + f" Transferred by {actor} to {target}.",
        }
        if skills:
            values["skills"] = skills
        if not to_agent:
            values["waiting_since"] = _now()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(TicketRow).where(TicketRow.id == ticket_id, TicketRow.status == ASSIGNED).values(**values)
            )
            if _rowcount(result) != 1:
                return None
            session.add(
                TicketEventRow(
                    ticket_id=ticket_id,
                    kind="transferred",
                    actor=actor,
                    detail={"skills": skills, "to_agent": to_agent},
                )
            )
        return await self.get(ticket_id)

    async def close(
        self, ticket_id: str, actor: str, status: str, only_from: tuple[str, ...] = OPEN_STATUSES
    ) -> TicketView | None:
        """Resolves, hands back or withdraws a ticket in one of `only_from`; any other stays as it is."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status.in_(only_from))
                .values(status=status, closed_at=_now())
            )
            if _rowcount(result) != 1:
                return None
            session.add(TicketEventRow(ticket_id=ticket_id, kind=status, actor=actor))
        return await self.get(ticket_id)

    async def rate(self, ticket_id: str, rating: int) -> TicketView | None:
        if not 1 <= rating <= 5:
            raise ValueError("a rating is a whole number from 1 to 5")
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.status == RESOLVED, TicketRow.rating.is_(None))
                .values(rating=rating)
            )
            if _rowcount(result) != 1:
                return None
            session.add(TicketEventRow(ticket_id=ticket_id, kind="rated", actor="customer", detail={"rating": rating}))
        return await self.get(ticket_id)

    async def update_summary(self, ticket_id: str, summary: str) -> TicketView | None:
        async with self._sessions.begin() as session:
            row = await session.get(TicketRow, ticket_id)
            if row is None:
                return None
            row.summary = summary
            session.add(TicketEventRow(ticket_id=ticket_id, kind="summary_refined", actor="assistant"))
        return await self.get(ticket_id)

    async def update_facts(self, ticket_id: str, facts: dict[str, str]) -> TicketView | None:
        """Records what the customer has told us since the brief was written."""
        async with self._sessions.begin() as session:
            row = await session.get(TicketRow, ticket_id)
            if row is None:
                return None
            row.brief = {**row.brief, "customer_facts": facts}
            session.add(TicketEventRow(ticket_id=ticket_id, kind="facts_updated", actor="customer", detail=facts))
        return await self.get(ticket_id)

    async def note(self, ticket_id: str, actor: str, kind: str, detail: dict[str, Any]) -> None:
        """Adds an entry to the ticket's audit trail (private notes live here too)."""
        async with self._sessions.begin() as session:
            session.add(TicketEventRow(ticket_id=ticket_id, kind=kind, actor=actor, detail=detail))

    async def has_event_since(self, ticket_id: str, kind: str, since: datetime) -> bool:
        """Whether the ticket's audit trail has an entry of `kind` at or after `since`."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(TicketEventRow.id)
                .where(TicketEventRow.ticket_id == ticket_id, TicketEventRow.kind == kind, TicketEventRow.at >= since)
                .limit(1)
            )
            return found is not None

    async def audit_trail(self, ticket_id: str) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketEventRow).where(TicketEventRow.ticket_id == ticket_id).order_by(TicketEventRow.id)
            )
            return [
                {"kind": row.kind, "actor": row.actor, "detail": row.detail, "at": as_utc(row.at).isoformat()}
                for row in rows
            ]

    async def open_tickets(self, statuses: tuple[str, ...] = OPEN_STATUSES) -> list[TicketView]:
        """Every open ticket (or those in `statuses`), in queue order: highest priority, then longest wait."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketRow)
                .where(TicketRow.status.in_(statuses))
                .order_by(TicketRow.priority.desc(), TicketRow.waiting_since)
            )
            return [view(row) for row in rows]

    async def add_agent(
        self,
        name: str,
        password: str,
        skills: list[str],
        is_supervisor: bool = False,
        max_chats: int = 3,
        avatar_url: str = "",
        languages: list[str] | None = None,
    ) -> AgentProfile:
        """Creates or replaces an agent account; the password is stored only as a bcrypt hash."""
        password_hash = (await asyncio.to_thread(bcrypt.hashpw, password.encode()[:72], bcrypt.gensalt())).decode()
        async with self._sessions.begin() as session:
            row = await session.get(AgentRow, name) or AgentRow(name=name)
            row.password_hash, row.skills, row.is_supervisor = password_hash, skills, is_supervisor
            row.max_chats, row.avatar_url = max_chats, avatar_url
            row.languages = languages or ["en"]
            session.add(row)
        return _profile(row)

    async def agent(self, name: str) -> AgentProfile | None:
        async with self._sessions() as session:
            row = await session.get(AgentRow, name)
            return _profile(row) if row else None

    async def mark_present(self, process_id: str, names: set[str]) -> None:
        """The agents with the portal open on this process, now; those gone from it are no longer present."""
        async with self._sessions.begin() as session:
            await session.execute(delete(PresenceRow).where(PresenceRow.process_id == process_id))
            session.add_all(PresenceRow(process_id=process_id, agent_name=name, seen_at=_now()) for name in names)

    async def present_agents(self, within_seconds: float) -> set[str]:
        """The agents some process saw with the portal open in the last `within_seconds` (a process
        that died stops renewing its rows, so its agents drop out on their own)."""
        since = _now().timestamp() - within_seconds
        async with self._sessions() as session:
            rows = await session.execute(select(PresenceRow.agent_name, PresenceRow.seen_at))
            return {name for name, seen in rows if (moment := as_utc(seen)) and moment.timestamp() >= since}

    async def set_away(self, name: str, away: bool) -> AgentProfile | None:
        """Records whether the agent is away; None if there is no such agent."""
        async with self._sessions.begin() as session:
            row = await session.get(AgentRow, name)
            if row is None:
                return None
            row.away = away
            return _profile(row)

    async def workload(self) -> tuple[dict[str, int], dict[str, datetime]]:
        """How many tickets each agent holds now, and when each was last given one."""
        async with self._sessions() as session:
            holding = await session.execute(
                select(TicketRow.assigned_agent, func.count())
                .where(TicketRow.status == ASSIGNED)
                .group_by(TicketRow.assigned_agent)
            )
            latest = await session.execute(
                select(TicketRow.assigned_agent, func.max(TicketRow.claimed_at))
                .where(TicketRow.assigned_agent.is_not(None))
                .group_by(TicketRow.assigned_agent)
            )
            return (
                {name: count for name, count in holding if name},
                {name: moment for name, at in latest if name and (moment := as_utc(at))},
            )

    async def agents(self) -> list[AgentProfile]:
        async with self._sessions() as session:
            return [_profile(row) for row in await session.scalars(select(AgentRow).order_by(AgentRow.name))]

    async def verify_agent(self, name: str, password: str) -> AgentProfile | None:
        """The agent when the password matches, else None: the same answer, in the same time, for an
        unknown name. bcrypt runs in a thread, so a login never stalls the event loop."""
        async with self._sessions() as session:
            row = await session.get(AgentRow, name)
        stored = row.password_hash.encode() if row else _UNKNOWN_AGENT_HASH
        # bcrypt reads 72 bytes (version 5 refuses more), so that is what a password is checked on.
        async with self._password_checks:
            matches = await asyncio.to_thread(bcrypt.checkpw, password.encode()[:72], stored)
        return _profile(row) if row and matches else None
