"""The desk's report: what a supervisor reads each morning, checked against the tickets behind it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.reports import percentile, period_window, report_csv, ticket_record
from engine.tickets import TicketEventRow, TicketRow
from tests.helpers import say

OPENED = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 23:30 in Berlin, 17:30 in New York


def _ticket(status: str = "resolved", rating: int | None = None, reason: str = "frustration") -> TicketRow:
    return TicketRow(
        id="t1",
        thread_id="th1",
        status=status,
        reason=reason,
        summary="",
        skills=["Billing", "Account"],
        brief={"language": "de"},
        priority=1.0,
        sentiment=0.0,
        frustration=0.5,
        waiting_since=OPENED,
        rating=rating,
    )


def _trail(*entries: tuple[str, str, float, dict]) -> list[TicketEventRow]:
    return [
        TicketEventRow(ticket_id="t1", kind=kind, actor=actor, detail=detail, at=OPENED + timedelta(seconds=after))
        for kind, actor, after, detail in entries
    ]


def test_a_tickets_wait_first_response_and_handle_time_come_from_its_audit_trail():
    trail = _trail(
        ("opened", "assistant", 0, {}),
        ("claimed", "Ana", 95, {}),
        ("replied", "Ana", 125, {}),
        ("replied", "Ana", 300, {}),
        ("resolved", "Ana", 695, {}),
        ("rated", "customer", 700, {"rating": 4}),
    )
    record = ticket_record(_ticket(rating=4), trail, ZoneInfo("Europe/Berlin"))
    assert (record.wait_seconds, record.first_response_seconds, record.handle_seconds) == (95, 30, 600)
    assert (record.agent, record.outcome, record.rating, record.skill, record.language) == (
        "Ana",
        "resolved",
        4,
        "Billing",
        "de",
    )
    assert record.day == "2026-11-30"
    assert ticket_record(_ticket(), trail, ZoneInfo("Asia/Tokyo")).day == "2026-12-01"  # the supervisor's own day


def test_a_transferred_ticket_belongs_to_the_agent_who_closed_it_and_its_wait_ends_at_the_first_claim():
    trail = _trail(
        ("opened", "assistant", 0, {}),
        ("claimed", "Ana", 40, {}),
        ("transferred", "Ana", 60, {"skills": None, "to_agent": "Ben"}),
        ("replied", "Ben", 90, {}),
        ("handed_back", "Ben", 200, {}),
    )
    record = ticket_record(_ticket(status="handed_back"), trail, ZoneInfo("UTC"))
    assert (record.agent, record.outcome, record.wait_seconds, record.first_response_seconds) == (
        "Ben",
        "handed_back",
        40,
        50,
    )


def test_a_customer_who_left_before_anyone_joined_abandoned_the_wait_unless_they_came_back():
    left = _trail(("opened", "assistant", 0, {}), ("customer_left", "customer", 30, {}))
    assert ticket_record(_ticket(status="waiting"), left, ZoneInfo("UTC")).outcome == "abandoned"
    back = left + _trail(("customer_returned", "customer", 50, {}))
    assert ticket_record(_ticket(status="waiting"), back, ZoneInfo("UTC")).outcome == "waiting"
    withdrawn = left + _trail(("withdrawn", "customer", 60, {}))
    assert ticket_record(_ticket(status="withdrawn"), withdrawn, ZoneInfo("UTC")).outcome == "withdrawn"


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9.1


def test_a_period_is_whole_days_of_the_supervisors_time_zone():
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # still 30 November in New York
    since, days = period_window("7d", "America/New_York", now)
    assert days[0] == "2026-11-24" and days[-1] == "2026-11-30" and len(days) == 7
    assert since == datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    assert period_window("today", "UTC", now) == (datetime(2026, 12, 1, tzinfo=UTC), ["2026-12-01"])


@pytest.mark.parametrize(
    ("period", "time_zone", "problem"),
    [
        ("7x", "UTC", "period is one of"),
        ("7d", "Mars/Base", "unknown time zone"),
        ("7d", "../../etc/passwd", "unknown time zone"),
        ("7d", "", "unknown time zone"),
        ("30d", "Europe/Berlin\x00", "unknown time zone"),
    ],
)
def test_an_unknown_period_or_time_zone_is_refused_with_the_reason(period, time_zone, problem):
    with pytest.raises(ValueError, match=problem):
        period_window(period, time_zone, datetime.now(UTC))


async def test_a_scripted_day_adds_up_in_the_report_and_its_csv(service):
    agent = await service.tickets.add_agent("Rhea", "pw", ["Billing", "Account", "General"])
    await say(service, "r-answered", "How do I reset my password?")  # the assistant alone
    await say(service, "r-resolved", "I want to talk to a human about my invoice")
    await say(service, "r-withdrawn", "can I speak to a person please")
    await say(service, "r-abandoned", "get me a real person now")
    resolved = await service.tickets.open_for_thread("r-resolved")
    assert resolved is not None
    await service.claim(resolved.id, agent)
    await service.reply(resolved.id, agent, "Hi, Rhea here.")
    await service.reply(resolved.id, agent, "Your invoice is fixed.")
    await service.resolve(resolved.id, agent)
    await service.rate("r-resolved", 5)
    await service.leave_queue("r-withdrawn")
    await service.customer_presence("r-abandoned", online=False)

    report = await service.reports.report("today", "UTC")

    assert (report.conversations, report.contained, report.escalations) == (4, 1, 3)
    assert report.containment_rate == 0.25
    assert report.by_reason == {"handoff_request": 3}
    assert sum(report.by_skill.values()) == 3 and report.by_language == {"en": 3}
    assert {key: report.outcomes[key] for key in ("resolved", "withdrawn", "abandoned", "waiting")} == {
        "resolved": 1,
        "withdrawn": 1,
        "abandoned": 1,
        "waiting": 0,
    }
    assert report.wait["count"] == 1 and report.first_response["count"] == 1 and report.handle["count"] == 1
    assert sum(bar["count"] for bar in report.wait_histogram) == 1
    assert report.csat == {
        "average": 5,
        "count": 1,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
        "by_agent": {"Rhea": 5},
        "by_reason": {"handoff_request": 5},
    }
    assert [(row["agent"], row["held"], row["resolved"], row["csat_count"]) for row in report.agents] == [
        ("Rhea", 1, 1, 1)
    ]
    assert report.days[-1]["escalations"] == 3 and report.days[-1]["conversations"] == 4

    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert sorted(row["outcome"] for row in rows) == ["abandoned", "resolved", "withdrawn"]
    resolved_row = next(row for row in rows if row["outcome"] == "resolved")
    assert (resolved_row["agent"], resolved_row["rating"], resolved_row["ticket_id"]) == ("Rhea", "5", resolved.id)
    assert next(row for row in rows if row["outcome"] == "withdrawn")["wait_seconds"] == ""  # nobody took it
