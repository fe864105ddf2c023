"""The desk's report over a period: containment, escalations, waits, response times, CSAT, per agent.

Everything is derived from the tickets, their audit trail and the transcripts, so any process can
compute it and it agrees with what the portal showed. Days are the supervisor's own (their time zone).
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .tickets import HANDED_BACK, RESOLVED, WITHDRAWN, TicketEventRow, TicketRow, as_utc
from .transcript import TranscriptRow

PERIOD_DAYS = {"today": 1, "7d": 7, "30d": 30}
CUSTOMER_LEFT, CUSTOMER_RETURNED = "customer_left", "customer_returned"  # audit-trail kinds, waiting tickets only
ABANDONED = "abandoned"
# Upper bounds (seconds) of the wait histogram's bars: how long customers waited for a person.
WAIT_BARS = (30, 60, 120, 300, 600, 1800, 3600)


@dataclass
class TicketRecord:
    """One handoff as the report counts it; also a row of the CSV download."""

    ticket_id: str
    thread_id: str
    opened_at: str
    day: str  # the day it was opened, in the report's time zone
    reason: str
    skill: str  # the ticket's primary skill
    language: str
    outcome: str  # waiting, assigned, resolved, handed_back, withdrawn or abandoned
    agent: str  # who held it last ("" if nobody took it)
    wait_seconds: float | None  # until the first agent took it; None if none did
    first_response_seconds: float | None  # from that agent taking it to their first reply
    handle_seconds: float | None  # from the first agent taking it to its close by an agent
    rating: int | None


@dataclass
class DeskReport:
    period: str
    time_zone: str
    since: str
    until: str
    conversations: int
    contained: int  # conversations started in the period that never reached a person
    containment_rate: float | None
    escalations: int
    by_reason: dict[str, int]
    by_skill: dict[str, int]
    by_language: dict[str, int]
    outcomes: dict[str, int]
    wait: dict[str, float | None]
    first_response: dict[str, float | None]
    handle: dict[str, float | None]
    wait_histogram: list[dict[str, Any]]
    csat: dict[str, Any]
    agents: list[dict[str, Any]]
    days: list[dict[str, Any]]
    tickets: list[TicketRecord] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def period_window(period: str, time_zone: str, now: datetime) -> tuple[datetime, list[str]]:
    """The period's start (local midnight, as a UTC moment) and its days, oldest first.

    Raises ValueError naming what is wrong with `period` or `time_zone`."""
    if period not in PERIOD_DAYS:
        raise ValueError(f"period is one of {', '.join(PERIOD_DAYS)}, not {period!r}")
    try:
        zone = ZoneInfo(time_zone)
    except (ValueError, KeyError) as unknown:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {time_zone!r}; send an IANA name such as Europe/Berlin") from unknown
    today = now.astimezone(zone).date()
    first = today - timedelta(days=PERIOD_DAYS[period] - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    return since, [(first + timedelta(days=offset)).isoformat() for offset in range(PERIOD_DAYS[period])]


def percentile(values: list[float], share: float) -> float | None:
    """The `share` quantile (0..1) with linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 1)


def _spread(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9), "count": len(values)}


def ticket_record(ticket: TicketRow, trail: list[TicketEventRow], zone: ZoneInfo) -> TicketRecord:
    """What one ticket's audit trail says about its handoff."""
    opened = as_utc(next((entry.at for entry in trail if entry.kind == "opened"), ticket.waiting_since))
    first_claim: datetime | None = None
    first_reply: datetime | None = None
    closed_by_agent: datetime | None = None
    holder, outcome, customer_away = "", ticket.status, False
    for entry in trail:
        at = as_utc(entry.at)
        if entry.kind == "claimed":
            holder = entry.actor
            first_claim = first_claim or at
        elif entry.kind == "transferred":
            holder = entry.detail.get("to_agent") or ""
        elif entry.kind == "unclaimed":
            holder = ""
        elif entry.kind == "replied" and first_claim and first_reply is None:
            first_reply = at
        elif entry.kind in (RESOLVED, HANDED_BACK):
            closed_by_agent, holder = at, entry.actor
        elif entry.kind in (CUSTOMER_LEFT, CUSTOMER_RETURNED):
            customer_away = entry.kind == CUSTOMER_LEFT
    if first_claim is None and customer_away and outcome != WITHDRAWN:
        outcome = ABANDONED  # left the chat while waiting and did not come back before anyone joined
    return TicketRecord(
        ticket_id=ticket.id,
        thread_id=ticket.thread_id,
        opened_at=opened.isoformat(),
        day=opened.astimezone(zone).date().isoformat(),
        reason=ticket.reason,
        skill=ticket.skills[0] if ticket.skills else "none",
        language=(ticket.brief or {}).get("language", "en"),
        outcome=outcome,
        agent=holder,
        wait_seconds=round((first_claim - opened).total_seconds(), 1) if first_claim else None,
        first_response_seconds=round((first_reply - first_claim).total_seconds(), 1)
        if first_reply and first_claim
        else None,
        handle_seconds=round((closed_by_agent - first_claim).total_seconds(), 1)
        if closed_by_agent and first_claim
        else None,
        rating=ticket.rating,
    )


def _wait_histogram(waits: list[float]) -> list[dict[str, Any]]:
    counts = Counter(bisect_left(WAIT_BARS, wait) for wait in waits)  # bar i holds waits up to WAIT_BARS[i]
    labels = [f"≤ {_duration(upper)}" for upper in WAIT_BARS] + [f"> {_duration(WAIT_BARS[-1])}"]
    return [{"label": label, "count": counts.get(index, 0)} for index, label in enumerate(labels)]


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _csat(records: list[TicketRecord]) -> dict[str, Any]:
    rated = [record for record in records if record.rating is not None]
    by_agent: dict[str, list[int]] = defaultdict(list)
    by_reason: dict[str, list[int]] = defaultdict(list)
    for record in rated:
        assert record.rating is not None
        by_agent[record.agent or "nobody"].append(record.rating)
        by_reason[record.reason].append(record.rating)
    return {
        "average": round(mean(r.rating for r in rated if r.rating is not None), 2) if rated else None,
        "count": len(rated),
        "distribution": {str(score): sum(1 for r in rated if r.rating == score) for score in range(1, 6)},
        "by_agent": {name: round(mean(scores), 2) for name, scores in sorted(by_agent.items())},
        "by_reason": {reason: round(mean(scores), 2) for reason, scores in sorted(by_reason.items())},
    }


def _agents(records: list[TicketRecord]) -> list[dict[str, Any]]:
    names = sorted({record.agent for record in records if record.agent})
    rows = []
    for name in names:
        held = [record for record in records if record.agent == name]
        ratings = [record.rating for record in held if record.rating is not None]
        rows.append(
            {
                "agent": name,
                "held": len(held),
                "resolved": sum(1 for record in held if record.outcome == RESOLVED),
                "first_response_p50": percentile(
                    [r.first_response_seconds for r in held if r.first_response_seconds is not None], 0.5
                ),
                "csat_average": round(mean(ratings), 2) if ratings else None,
                "csat_count": len(ratings),
            }
        )
    return rows


def _days(days: list[str], records: list[TicketRecord], started: dict[str, str]) -> list[dict[str, Any]]:
    conversations_on = Counter(started.values())
    rows = []
    for day in days:
        opened = [record for record in records if record.day == day]
        waits = [record.wait_seconds for record in opened if record.wait_seconds is not None]
        responses = [record.first_response_seconds for record in opened if record.first_response_seconds is not None]
        rows.append(
            {
                "day": day,
                "conversations": conversations_on.get(day, 0),
                "escalations": len(opened),
                "by_reason": dict(Counter(record.reason for record in opened)),
                "wait_p50": percentile(waits, 0.5),
                "wait_p90": percentile(waits, 0.9),
                "first_response_p50": percentile(responses, 0.5),
                "handle_p50": percentile([r.handle_seconds for r in opened if r.handle_seconds is not None], 0.5),
            }
        )
    return rows


def build_report(
    period: str,
    time_zone: str,
    since: datetime,
    until: datetime,
    days: list[str],
    records: list[TicketRecord],
    started: dict[str, str],
) -> DeskReport:
    """The figures for handoffs opened in the period (`records`) and conversations started in it
    (`started`: thread id -> local day of its first customer message)."""
    escalated_threads = {record.thread_id for record in records}
    contained = sum(1 for thread in started if thread not in escalated_threads)
    waits = [record.wait_seconds for record in records if record.wait_seconds is not None]
    outcomes = Counter(record.outcome for record in records)
    return DeskReport(
        period=period,
        time_zone=time_zone,
        since=since.isoformat(),
        until=until.isoformat(),
        conversations=len(started),
        contained=contained,
        containment_rate=round(contained / len(started), 3) if started else None,
        escalations=len(records),
        by_reason=dict(Counter(record.reason for record in records).most_common()),
        by_skill=dict(Counter(record.skill for record in records).most_common()),
        by_language=dict(Counter(record.language for record in records).most_common()),
        outcomes={
            name: outcomes.get(name, 0) for name in ("waiting", "assigned", RESOLVED, HANDED_BACK, WITHDRAWN, ABANDONED)
        },
        wait=_spread(waits),
        first_response=_spread([r.first_response_seconds for r in records if r.first_response_seconds is not None]),
        handle=_spread([r.handle_seconds for r in records if r.handle_seconds is not None]),
        wait_histogram=_wait_histogram(waits),
        csat=_csat(records),
        agents=_agents(records),
        days=_days(days, records, started),
        tickets=records,
    )


def report_csv(report: DeskReport) -> str:
    """The report's rows, one handoff per line, as a spreadsheet opens them."""
    out = io.StringIO()
    columns = list(TicketRecord.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for record in report.tickets:
        writer.writerow({key: "" if value is None else value for key, value in asdict(record).items()})
    return out.getvalue()


class ReportReader:
    """Reads what a report needs from the shared database: the same figures in every process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def report(self, period: str, time_zone: str, now: datetime | None = None) -> DeskReport:
        """The report for `period` ("today", "7d", "30d") in days of `time_zone`; ValueError if either is unknown."""
        until = now or datetime.now(UTC)
        since, days = period_window(period, time_zone, until)
        zone = ZoneInfo(time_zone)
        async with self._sessions() as session:
            opened_in_period = select(TicketEventRow.ticket_id).where(
                TicketEventRow.kind == "opened", TicketEventRow.at >= since
            )
            tickets = list(await session.scalars(select(TicketRow).where(TicketRow.id.in_(opened_in_period))))
            trails: dict[str, list[TicketEventRow]] = defaultdict(list)
            for entry in await session.scalars(
                select(TicketEventRow).where(TicketEventRow.ticket_id.in_(opened_in_period)).order_by(TicketEventRow.id)
            ):
                trails[entry.ticket_id].append(entry)
            first_messages = await session.execute(
                select(TranscriptRow.thread_id, func.min(TranscriptRow.at))
                .where(TranscriptRow.role == "customer")
                .group_by(TranscriptRow.thread_id)
                .having(func.min(TranscriptRow.at) >= since.isoformat())
            )
        started = {
            thread: datetime.fromisoformat(at).astimezone(zone).date().isoformat() for thread, at in first_messages
        }
        records = sorted((ticket_record(t, trails[t.id], zone) for t in tickets), key=lambda record: record.opened_at)
        return build_report(period, time_zone, since, until, days, records, started)
